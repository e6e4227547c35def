"""`kubelab`: run the whole cluster (`up`) or one component on its own."""

from __future__ import annotations

import importlib
import sys

from dashboard import STATIC_DIR as DASHBOARD_STATIC_DIR

COMPONENTS = {
    "apiserver": ("apiserver.main", "serve the Kubernetes API"),
    "scheduler": ("scheduler.main", "bind pending pods to nodes and GPUs"),
    "controllers": ("controllers.main", "run the controller manager"),
    "kubelet": ("kubelet.main", "run the node agent on this box"),
    "dns": ("clusterdns.main", "serve cluster DNS for Services and pods"),
    "autoscaler": ("autoscaler.main", "power boxes on for waiting pods, off when idle"),
    "up": ("kubelab.up", "run a whole cluster on this machine"),
    "join": ("kubelab.join", "join this box to a cluster with a token"),
    "token": ("kubelab.token", "create join and user tokens"),
    "audit": ("kubelab.audit", "show who did what (the apiserver's audit log)"),
}

USAGE = (
    "usage: kubelab COMMAND [flags]\n\ncommands:\n"
    + "\n".join(f"  {name:<12} {desc}" for name, (_, desc) in COMPONENTS.items())
    + "\n\nexample: kubelab up --runtime fake --fake-gpus 4\nrun `kubelab COMMAND --help` for its flags."
)


def name_process(args: list[str]) -> None:
    """Show this process as ``kubelab COMMAND FLAGS`` in ``ps`` and /proc/PID/cmdline
    (the README's promise), not as the interpreter running ``-m kubelab``."""
    from setproctitle import setproctitle  # here: only a process of its own needs it

    setproctitle(" ".join(["kubelab", *args]))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if argv is None:  # a process of its own (`kubelab ...`, `python -m kubelab ...`)
        name_process(args)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMPONENTS:
        print(f"kubelab: unknown command {name!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    if name == "apiserver" and not any(a.startswith("--dashboard-dir") for a in rest):
        rest = [*rest, "--dashboard-dir", str(DASHBOARD_STATIC_DIR)]  # the packaged dashboard
    module = importlib.import_module(COMPONENTS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
