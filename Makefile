# parametric_portal.infra: the two commands a newcomer needs, plus helpers.
.PHONY: test demo lint lock images bootstrap clean

test:            ## Install everything needed and run the whole suite (CI runs exactly this)
	bash scripts/test.sh

demo:            ## Run playbooks/site.yml against a local Ubuntu 24.04 systemd container
	bash scripts/demo.sh

lint:            ## yamllint + ansible-lint only (after `make bootstrap`)
	PATH="$(CURDIR)/.venv/bin:$$PATH" bash scripts/install-collection.sh >/dev/null
	.venv/bin/yamllint -s .
	ANSIBLE_COLLECTIONS_PATH="$(CURDIR)/build/collections" ANSIBLE_HOME="$(CURDIR)/build/ansible-home" \
	  PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/ansible-lint --profile production

bootstrap:       ## Install apt packages, podman settings and the venv
	bash scripts/bootstrap-host.sh

images:          ## Build the systemd test images with debootstrap (cached)
	bash scripts/build-test-images.sh

lock:            ## Re-resolve requirements.in into requirements.lock
	python3 -m venv build/lockenv && build/lockenv/bin/pip install -q -r requirements.in && \
	build/lockenv/bin/pip freeze --exclude-editable | sort > requirements.lock

clean:
	rm -rf build
