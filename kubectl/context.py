"""What every verb needs: the parsed flags, the API client, the namespace and the streams."""

from __future__ import annotations

import argparse
import sys
from functools import cached_property
from typing import IO, Any

from client import Client, ClusterConfig, KubeconfigError, load_kubeconfig
from kubectl.errors import CliError


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

    # -- configuration -----------------------------------------------------------------

    @cached_property
    def config(self) -> ClusterConfig:
        """The kubeconfig context in use, with ``--server``/``--token`` applied on top."""
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
        """The API client for the selected context (built on first use)."""
        return Client.from_config(self.config)

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
