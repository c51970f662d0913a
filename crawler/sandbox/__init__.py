"""Local sandbox sites for the demo and the tests: a GBK classified-ads site, a Discuz-style
forum and an app-style JSON API, each serving hand-written posts from ``data/*.jsonl``.

``start_sandbox()`` serves them on 127.0.0.1 in background threads; ``python -m
crawler.sandbox`` serves them in the foreground on the ports the bundled sources expect.
"""

from crawler.sandbox.server import DEFAULT_PORTS, SITES, SandboxHandle, load_posts, start_sandbox

__all__ = ["DEFAULT_PORTS", "SITES", "SandboxHandle", "load_posts", "start_sandbox"]
