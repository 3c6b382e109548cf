"""Runs only the ControllerManager against a cluster (for bench/controllers.py: its CPU is then
the controllers' alone). Usage: controllers_proc.py KUBECONFIG CA_PEM_FILE"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from vcluster.client import Client
from vcluster.controllers.manager import ControllerManager


async def main(kubeconfig: str, ca_file: str) -> None:
    client = await Client.from_kubeconfig(kubeconfig, user_agent="bench-controllers")
    cm = ControllerManager(client, options={"serviceaccount": {"root_ca_pem": Path(ca_file).read_text()}})
    await cm.start()
    print("controllers ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await cm.stop()
    await client.close()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(sys.argv[1], sys.argv[2]))
