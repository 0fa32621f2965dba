{
  # The operator's dev shell of the spec (Dev Tooling: Nix 24.05, "20 CLIs (kubectl, k9s, argocd,
  # stern)"): `nix develop` gives the command-line tools this collection's docs and playbooks assume.
  # README.md ("Dev shell (Nix)") names each tool and why. The Ansible controller itself (ansible-core
  # 2.19, ansible-lint, molecule) comes from .venv (`make bootstrap`, requirements.lock): nixos-24.05
  # ships ansible-core 2.16, older than meta/runtime.yml accepts.
  description = "parametric_portal.infra operator dev shell (nixos-24.05)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: builtins.listToAttrs (map (system: {
        name = system;
        value = f system nixpkgs.legacyPackages.${system};
      }) systems);

      # The twenty tools, by nixpkgs attribute. Linux-only ones (the test machinery) are added on Linux.
      cliTools = pkgs: with pkgs; [
        kubectl         # every kubectl in docs/ and the day-2 playbooks (k8s:diff, port-forward to Argo CD)
        kubecolor       # the spec's alias k
        k9s             # the spec's alias k9: cluster TUI
        argocd          # the spec's alias argo: Argo CD CLI (login, app sync/diff)
        stern           # the spec's alias klog: logs of many pods
        kubernetes-helm # rendering the pinned charts while changing chart values (docs/platform.md)
        kustomize       # k8s:build / the GitOps tree (the spec pins Kustomize v5.5)
        kubeseal        # reading what the seal_secret module wrote, key recovery (docs/sealing.md)
        kubectl-cnpg    # kubectl cnpg status/backup/psql for the CloudNativePG cluster (docs/backup.md)
        mise            # the spec's task runner (mise.toml)
        git             # the GitOps tree is a git repository Argo CD follows
        openssh         # reaching the VPS (Ansible connection, ssh-keygen for the admin key)
        openssl         # certificate fingerprints and expiry (sealing certificate, TLS endpoints)
        postgresql_16   # psql / pg_dump / pg_restore for restore drills by hand (client; server is 17)
        python311       # the controller's Python for .venv (make bootstrap)
        curl            # probing the public endpoints by hand (docs/verify.md)
        dnsutils        # dig: the ACME domains' DNS that preflight checks
      ];
      linuxTools = pkgs: with pkgs; [
        podman          # Molecule's driver (systemd test containers)
        debootstrap     # building the test images (scripts/build-test-images.sh)
        qemu            # the VM scenario (Ubuntu 24.04 under qemu)
      ];
    in
    {
      devShells = forAllSystems (system: pkgs: {
        default = pkgs.mkShell {
          packages = cliTools pkgs ++ (if pkgs.stdenv.isLinux then linuxTools pkgs else [ ]);
          shellHook = ''
            alias k=kubecolor k9=k9s argo=argocd klog=stern
            export PP_ENV="''${PP_ENV:-prod}"
            echo "parametric_portal.infra dev shell (nixos-24.05): run 'make bootstrap' once for .venv (Ansible)."
          '';
        };
      });
    };
}
