"""Serve the sandbox sites in the foreground: ``python -m crawler.sandbox``."""

import time

from crawler.sandbox import DEFAULT_PORTS, start_sandbox

if __name__ == "__main__":
    handle = start_sandbox(dict(DEFAULT_PORTS))
    for name, url in handle.urls.items():
        print(f"{name}: {url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        handle.stop()
