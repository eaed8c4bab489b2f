# Stand-in for pip's get-pip.py bootstrap script, which ansible-test downloads from a
# host these machines cannot reach. ansible-test runs it as __main__ with pip install
# arguments (plus get-pip's own --no-setuptools / --no-wheel); this installs Python's
# bundled pip (ensurepip) and then runs that install.
import ensurepip
import runpy
import sys

ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
