"""Stand-in for the pip bootstrap script that `ansible-test` downloads from its own CI file host.

That host is not reachable from the machines this project is tested on, but the package index is.
ansible-test runs this file (cached as ~/.ansible/test/cache/get_pip_<version>.py) inside a fresh
virtual environment, with the wanted packages as arguments (e.g. pip==24.2). This script bootstraps
pip from the standard library's ensurepip and then installs exactly those packages from the
machine's configured package index. Written for this project; it contains no upstream code.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=False, default_pip=True)
# ensurepip sets PIP_CONFIG_FILE=/dev/null in this process; the install below must see the
# machine's pip configuration (index, CA bundle) again.
os.environ.pop("PIP_CONFIG_FILE", None)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])
