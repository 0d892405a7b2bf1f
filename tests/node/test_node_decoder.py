"""The decoder's worker process (node/decoder.py), for real: a large envelope is opened
there as in process, a forged one is refused there as in process, a small one never goes
there, and a worker killed while it opens an envelope costs that envelope a retryable
refusal and nothing else: the next large envelope starts a new worker; a worker whose
server was killed ends by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from tagshare.node import decoder as decoder_module
from tagshare.node.decoder import Decoder, WorkerLost
from tagshare.protocol import (
    DecryptionFailed,
    Envelope,
    ShareBatch,
    open_envelope,
    seal,
    shared_key,
)
from tagshare.protocol.encoding import b64u_encode
from tagshare.protocol.keys import NodeKeys
from tagshare.protocol.snapshot import Snapshot

GRANTER = NodeKeys(signing_seed=bytes([1]) * 32, box_secret=bytes([2]) * 32)
US = NodeKeys(signing_seed=bytes([3]) * 32, box_secret=bytes([4]) * 32)
KEYS = [shared_key(US, GRANTER.box_public)]
LARGE = 100_000  # ciphertext characters from which this test's decoder takes an envelope


def chunk(people: int) -> ShareBatch:
    rows = tuple((f"0190a1b2-c3d4-7e5f-8a9b-{n:012x}", 1, f"First{n}", "Lee")
                 for n in range(people))
    snapshot = Snapshot(columns=("first_name", "last_name"), rows=rows)
    return ShareBatch(share="0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", epoch=b64u_encode(bytes(16)),
                      seq=1, terms=1, items=(), snapshot=snapshot)


def sealed(message: ShareBatch) -> Envelope:
    return seal(sender=GRANTER, recipient_id=US.node_id, recipient_box_key=US.box_public,
                message=message, message_id=os.urandom(16), nonce=os.urandom(24), created=0)


@pytest.fixture
async def decoder() -> AsyncIterator[Decoder]:
    """A decoder whose worker is up."""
    started = Decoder(min_bytes=LARGE)
    assert not started.takes(sealed(chunk(3000)))  # the first large one starts it...
    while not started.takes(sealed(chunk(3000))):  # ... and is opened in process meanwhile
        await asyncio.sleep(0.02)
    yield started
    started.close()


async def test_a_large_envelope_is_opened_in_the_worker_as_in_process(
        decoder: Decoder) -> None:
    envelope = sealed(chunk(3000))
    assert len(envelope.ciphertext) >= LARGE and decoder.takes(envelope)
    in_process = open_envelope(envelope, recipient=US, sender_box_key=GRANTER.box_public)
    assert await decoder.open(envelope, KEYS) == (in_process, 0)
    assert decoder.handed == 1 and decoder.worker_pid() not in (None, os.getpid())


async def test_a_small_envelope_stays_in_process(decoder: Decoder) -> None:
    envelope = sealed(chunk(10))
    assert len(envelope.ciphertext) < LARGE and not decoder.takes(envelope)


async def test_a_forged_large_envelope_is_refused_there_as_in_process(
        decoder: Decoder) -> None:
    envelope = sealed(chunk(3000))
    flipped = bytearray(envelope.ciphertext_bytes)
    flipped[-1] ^= 1
    tampered = replace(envelope, ciphertext=b64u_encode(bytes(flipped)))
    with pytest.raises(DecryptionFailed):
        open_envelope(tampered, recipient=US, sender_box_key=GRANTER.box_public)
    with pytest.raises(DecryptionFailed) as refused:
        await decoder.open(tampered, KEYS)
    assert refused.value.code == "decryption_failed"
    other = [shared_key(US, NodeKeys(bytes([5]) * 32, bytes([6]) * 32).box_public)]
    with pytest.raises(DecryptionFailed):
        await decoder.open(envelope, other)  # keys that are not the sender's


async def test_a_worker_killed_while_it_opens_costs_a_retry_and_is_replaced(
        decoder: Decoder) -> None:
    pid = decoder.worker_pid()
    assert pid is not None
    envelope = sealed(chunk(3000))
    os.kill(pid, signal.SIGSTOP)  # it takes the envelope but cannot open it...
    opening = asyncio.create_task(decoder.open(envelope, KEYS))
    while decoder.busy == 0:
        await asyncio.sleep(0.01)
    os.kill(pid, signal.SIGKILL)  # ... and dies with it
    with pytest.raises(WorkerLost):
        await opening
    assert decoder.lost == 1
    assert not decoder.takes(envelope)  # a new worker starts; in process meanwhile
    while not decoder.takes(envelope):
        await asyncio.sleep(0.02)
    assert decoder.worker_pid() not in (None, pid)
    assert (await decoder.open(envelope, KEYS))[1] == 0


async def test_a_worker_that_died_idle_costs_nothing_and_is_replaced(
        decoder: Decoder) -> None:
    pid = decoder.worker_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while Path(f"/proc/{pid}").exists():  # reaped: the pool knows it is gone
        await asyncio.sleep(0.01)
    envelope = sealed(chunk(3000))
    in_process = open_envelope(envelope, recipient=US, sender_box_key=GRANTER.box_public)
    assert await decoder.open(envelope, KEYS) == (in_process, 0)  # opened beside
    assert (decoder.handed, decoder.lost) == (0, 0)
    assert not decoder.takes(envelope)  # a new worker starts
    while not decoder.takes(envelope):
        await asyncio.sleep(0.02)
    assert decoder.worker_pid() not in (None, pid)
    assert await decoder.open(envelope, KEYS) == (in_process, 0)
    assert decoder.handed == 1


async def test_a_quiet_server_retires_an_idle_worker_not_a_busy_one(
        decoder: Decoder) -> None:
    pid = decoder.worker_pid()
    assert pid is not None
    envelope = sealed(chunk(3000))
    os.kill(pid, signal.SIGSTOP)  # holds the envelope until it may go on
    opening = asyncio.create_task(decoder.open(envelope, KEYS))
    while decoder.busy == 0:
        await asyncio.sleep(0.01)
    decoder.retire()  # busy: nothing happens
    assert decoder.worker_pid() == pid
    os.kill(pid, signal.SIGCONT)
    in_process = open_envelope(envelope, recipient=US, sender_box_key=GRANTER.box_public)
    assert await opening == (in_process, 0)
    decoder.retire()  # idle: it ends, and the next large envelope starts a new one
    assert decoder.worker_pid() is None and not _alive(pid)
    assert not decoder.takes(envelope)
    while not decoder.takes(envelope):
        await asyncio.sleep(0.02)
    assert decoder.worker_pid() not in (None, pid)
    assert await decoder.open(envelope, KEYS) == (in_process, 0)


SERVER = """
import asyncio, sys, time
from tagshare.node.decoder import Decoder

async def main():
    decoder = Decoder()
    decoder.start()
    while decoder.worker_pid() is None:
        await asyncio.sleep(0.02)
    print(decoder.worker_pid(), flush=True)
    time.sleep(120)

asyncio.run(main())
"""


def test_a_worker_whose_server_was_killed_ends_too(tmp_path: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, cwd=tmp_path) as server:
        assert server.stdout is not None
        worker = int(server.stdout.readline())
        server.kill()  # SIGKILL: the server cannot end its worker
    deadline = time.monotonic() + 30
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the worker outlived its server"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


MAIN_SCRIPT = """
from pathlib import Path
with open(Path(__file__).with_name("imported"), "a") as marks:
    marks.write("imported\\n")  # once for each process that runs this script

if __name__ == "__main__":
    import asyncio
    from tagshare.node.decoder import Decoder

    async def main():
        decoder = Decoder()
        decoder.start()
        while decoder.worker_pid() is None:
            await asyncio.sleep(0.02)
        decoder.close()

    asyncio.run(main())
"""


def test_the_worker_does_not_run_the_servers_main_script_again(tmp_path: Path) -> None:
    """Spawn would run it again in the worker (for `tagshare serve`: the whole CLI)."""
    script = tmp_path / "serve.py"
    script.write_text(MAIN_SCRIPT)
    subprocess.run([sys.executable, str(script)], check=True, cwd=tmp_path, timeout=60)
    assert (tmp_path / "imported").read_text() == "imported\n"


def test_a_node_that_may_not_start_a_process_opens_everything_in_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError("operation not permitted")  # a sandbox's answer

    monkeypatch.setattr(decoder_module, "ProcessPoolExecutor", refused)
    decoder = Decoder(min_bytes=LARGE)
    envelope = sealed(chunk(3000))
    assert not decoder.takes(envelope) and not decoder.takes(envelope)
    assert decoder.worker_pid() is None
