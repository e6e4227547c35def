"""What every verb needs: the parsed flags, the API client, the namespace and the streams."""

from __future__ import annotations

import argparse
import sys
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

from kubectl.errors import CliError

if TYPE_CHECKING:
    from client.kubeconfig import ClusterConfig
    from client.sync import Client


class Ctx:
    """One ``kl`` invocation: flags, lazily built client, output streams."""

    def __init__(
        self,
        args: argparse.Namespace,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        self.args = args
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._warned: set[str] = set()

    def learn_custom_kinds(self) -> None:
        """Custom kinds from the server's discovery (kubectl/discovery.py)."""
        from kubectl.discovery import learn_custom_kinds

        learn_custom_kinds(self.client)

    # -- configuration -----------------------------------------------------------------

    @cached_property
    def config(self) -> ClusterConfig:
        """The kubeconfig context in use, with ``--server``/``--token`` applied on top."""
        from client.kubeconfig import ClusterConfig, KubeconfigError, load_kubeconfig

        server = getattr(self.args, "server", None)
        token = getattr(self.args, "token", None)
        try:
            cfg = load_kubeconfig(self.args.kubeconfig, self.args.context)
        except KubeconfigError as e:
            if not server:
                raise CliError(str(e)) from e
            cfg = ClusterConfig(server=server)
        if server:
            cfg.server = server.rstrip("/")
        if token:
            cfg.token = token
        if getattr(self.args, "insecure_skip_tls_verify", False):
            cfg.verify = False
        return cfg

    @cached_property
    def client(self) -> Client:
        """The API client for the selected context (built on first use); every warning
        the server sends with a reply is printed by :meth:`warn`."""
        from client.sync import Client  # here: a verb that makes no request never loads it

        return Client.from_config(self.config, on_warning=self.warn)

    def warn(self, text: str) -> None:
        """``Warning: TEXT`` on stderr, each text once per invocation (as kubectl does)."""
        if text in self._warned:
            return
        self._warned.add(text)
        self.err(f"Warning: {text}")

    @property
    def namespace(self) -> str:
        """``-n``, else the context's namespace, else ``default``."""
        ns = getattr(self.args, "namespace", None)
        if ns:
            return str(ns)
        try:
            return self.config.namespace or "default"
        except CliError:
            return "default"

    @property
    def all_namespaces(self) -> bool:
        return bool(getattr(self.args, "all_namespaces", False))

    def list_namespace(self) -> str | None:
        """The namespace to list in: None (every namespace) with ``-A``."""
        return None if self.all_namespaces else self.namespace

    @property
    def explicit_namespace(self) -> bool:
        """Whether ``-n`` was given on the command line."""
        return bool(getattr(self.args, "namespace", None))

    # -- output --------------------------------------------------------------------------

    def out(self, text: str = "", end: str = "\n") -> None:
        self.stdout.write(text + end)
        self.stdout.flush()

    def err(self, text: str = "", end: str = "\n") -> None:
        self.stderr.write(text + end)
        self.stderr.flush()

    def opt(self, name: str, default: Any = None) -> Any:
        return getattr(self.args, name, default)
