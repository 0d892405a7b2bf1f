"""`people import` with its rows cleaned in a second process (node/import_worker.py): the
same reports, line numbers, strict mode and refusals as in process, and a cleaner that
fails or dies makes the import fail cleanly with nothing imported."""

import functools
import os
import signal
import subprocess
import sys
import time

import pytest
from test_node_import_export import (  # run again below, through the child process
    test_a_repeated_email_names_both_lines_and_changes_nobody,
    test_bad_rows_are_reported_by_line_and_good_rows_applied,
    test_bad_rows_are_reported_in_line_order,
    test_bulk_import_matches_the_matching_path,
    test_duplicates_across_batches_collapse,
    test_failed_bulk_import_leaves_the_schema_intact,
    test_import_nationbuilder_export,
    test_import_queues_people_of_an_actively_shared_tag,
    test_importing_the_same_file_twice_adds_nobody,
    test_latin1_file_is_refused_and_nothing_is_imported,
    test_ragged_rows_are_bad_rows_not_a_crash,
    test_rejected_bulk_import_leaves_the_schema_intact,
    test_strict_import_names_the_first_bad_line,
    test_strict_import_with_a_bad_row_applies_nothing,
    test_unusable_files_are_refused_and_nothing_is_imported,
    write,
)

from tagshare.node import csvio, import_worker
from tagshare.node.errors import InvalidInput
from tagshare.node.import_worker import CleanBatch, CleaningJob, clean_batches
from tagshare.node.node import open_node

REUSED = (  # collected here too: the autouse fixture below sends their files to a child
    test_a_repeated_email_names_both_lines_and_changes_nobody,
    test_bad_rows_are_reported_by_line_and_good_rows_applied,
    test_bad_rows_are_reported_in_line_order,
    test_bulk_import_matches_the_matching_path,
    test_duplicates_across_batches_collapse,
    test_failed_bulk_import_leaves_the_schema_intact,
    test_import_nationbuilder_export,
    test_import_queues_people_of_an_actively_shared_tag,
    test_importing_the_same_file_twice_adds_nobody,
    test_latin1_file_is_refused_and_nothing_is_imported,
    test_ragged_rows_are_bad_rows_not_a_crash,
    test_rejected_bulk_import_leaves_the_schema_intact,
    test_strict_import_names_the_first_bad_line,
    test_strict_import_with_a_bad_row_applies_nothing,
    test_unusable_files_are_refused_and_nothing_is_imported,
)


@pytest.fixture(autouse=True)
def in_child(monkeypatch, request):
    """Every file of this module is cleaned in a child process; a test that reached the
    cleaning checks it really was."""
    monkeypatch.setattr(csvio, "CHILD_MIN_BYTES", 0)
    monkeypatch.setattr(csvio, "_two_cores", lambda: True)
    calls = []
    real = import_worker.cleaned

    def recording(job, *, in_child, **kwargs):
        calls.append(in_child)
        return real(job, in_child=in_child, **kwargs)

    monkeypatch.setattr(import_worker, "cleaned", recording)
    yield calls
    assert all(calls), "a file was cleaned in process"


MESSY = (
    "first_name,last_name,email,phone,tags\n"          # 1
    "Ann,Lee,ann@example.org,614-555-0101,a\n"         # 2
    "Bo,,not-an-email,,\n"                             # 3 invalid email
    "\"Cy\nCyrus\",Ng,cy@example.org,,\"b,c\"\n"       # 4 one record on two lines
    "Di,Fox,di@example.org,555-01,\n"                  # 5 invalid phone
    ",,,,\n"                                           # 6 blank
    "Ed,Kim,ed@example.org\n"                          # 7 too few columns
    "Fi,Ro,ANN@example.org,,d\n"                       # 8 repeats line 2's email
    "Gu,Ma,,+44 20 7946 0958,e\n"                      # 9 not NANP: phonenumbers
)


def _import(home, path, *, strict=False, tags=()):
    opened = open_node(home)
    try:
        return csvio.import_csv(opened, path, tags=list(tags), strict=strict)
    finally:
        opened.close()


def _people(home):
    opened = open_node(home)
    try:
        return sorted(tuple(row)[3:12] for row in opened.conn.execute("SELECT * FROM people"))
    finally:
        opened.close()


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_the_child_reports_what_the_process_reports(node, fresh, tmp_path, monkeypatch,
                                                    in_child, batch):
    monkeypatch.setattr(csvio, "BATCH_ROWS", batch)
    path = write(tmp_path, MESSY)
    by_child = _import(node.home, path, tags=["spring"]).to_dict()
    monkeypatch.setattr(csvio, "CHILD_MIN_BYTES", 10**9)
    other = type(fresh)(tmp_path / "other")
    other.ok("init", "--name", "Other")
    in_process = _import(other.home, path, tags=["spring"]).to_dict()
    in_child.clear()
    assert by_child == in_process
    assert [e["line"] for e in by_child["errors"]] == [3, 5, 7, 8]
    assert "also on line 2" in by_child["errors"][-1]["reason"]
    assert (by_child["added"], by_child["skipped"]) == (3, 4)
    assert _people(node.home) == _people(other.home)
    assert node.json("people", "show", "cy@example.org")["first_name"] == "Cy\nCyrus"
    assert node.json("people", "show", "+442079460958")["tags"] == ["e", "spring"]


def test_strict_through_the_child_applies_nothing_and_names_the_first_bad_line(node, tmp_path):
    with pytest.raises(csvio.ImportRejected, match="first on line 3"):
        _import(node.home, write(tmp_path, MESSY), strict=True)
    assert node.json("status")["people"] == 0


def test_progress_comes_from_the_child(node, tmp_path, monkeypatch):
    monkeypatch.setattr(csvio, "BATCH_ROWS", 10)
    rows = "".join(f"P{i},p{i}@example.org\n" for i in range(95))
    path = write(tmp_path, "first_name,email\n" + rows)
    seen: list[int] = []
    opened = open_node(node.home)
    try:
        csvio.import_csv(opened, path, tags=[], progress=seen.append)
    finally:
        opened.close()
    assert len(seen) == 10 and seen == sorted(seen) and seen[-1] == os.path.getsize(path)


# --- a cleaner that fails ------------------------------------------------------


def _fails_after_one_batch(job: CleaningJob):
    """Runs in the child: one good batch, then an unexpected error."""
    batches = clean_batches(job)
    yield next(batches)
    raise RuntimeError("disk on fire")


def _dies_after_one_batch(job: CleaningJob):
    """Runs in the child: one good batch, then the process ends without a word."""
    batches = clean_batches(job)
    yield next(batches)
    os._exit(3)


def _says_the_file_is_bad(job: CleaningJob):
    yield CleanBatch()
    raise InvalidInput("that file is not what it claims")


def _with_cleaner(monkeypatch, clean):
    """Clean with `clean` from now on; returns the way to clean as before."""
    real = import_worker.cleaned
    monkeypatch.setattr(import_worker, "cleaned", functools.partial(real, clean=clean))
    return real


def _indexes(home):
    opened = open_node(home)
    try:
        return sorted(r[0] for r in opened.conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger')"))
    finally:
        opened.close()


@pytest.mark.parametrize(("clean", "message"), [
    (_fails_after_one_batch, "the process cleaning the rows failed (RuntimeError: disk on fire)"),
    (_dies_after_one_batch, "the process cleaning the rows stopped (exit code 3)"),
])
def test_a_failing_cleaner_fails_the_import_and_imports_nothing(node, tmp_path, monkeypatch,
                                                                clean, message):
    monkeypatch.setattr(csvio, "BATCH_ROWS", 5)
    before = _indexes(node.home)
    path = write(tmp_path, "first_name,email\n"
                 + "".join(f"P{i},p{i}@example.org\n" for i in range(20)))
    real = _with_cleaner(monkeypatch, clean)
    stderr = node.fails("people", "import", path)
    assert message in stderr and "nothing was imported" in stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert node.json("status")["people"] == 0
    assert _indexes(node.home) == before
    monkeypatch.setattr(import_worker, "cleaned", real)
    node.ok("people", "import", path)  # nothing was left locked or half-done
    assert node.json("status")["people"] == 20


def test_a_bad_file_found_by_the_child_is_refused_with_its_message(node, tmp_path, monkeypatch):
    _with_cleaner(monkeypatch, _says_the_file_is_bad)
    path = write(tmp_path, "first_name\nAnn\n")
    with pytest.raises(InvalidInput, match="not what it claims"):
        _import(node.home, path)
    assert node.json("status")["people"] == 0


def _recording_children(monkeypatch):
    """The child processes the import starts, as they start."""
    started = []
    real = import_worker._started

    def recording(job, clean):
        child = real(job, clean)
        started.append(child)
        return child

    monkeypatch.setattr(import_worker, "_started", recording)
    return started


def test_the_child_is_gone_after_the_import(node, tmp_path, monkeypatch):
    started = _recording_children(monkeypatch)
    _import(node.home, write(tmp_path, MESSY))
    assert len(started) == 1 and started[0].returncode == 0


def test_the_child_is_gone_after_a_failed_import(node, tmp_path, monkeypatch):
    started = _recording_children(monkeypatch)
    _with_cleaner(monkeypatch, _fails_after_one_batch)
    with pytest.raises(import_worker.CleanerFailed):
        _import(node.home, write(tmp_path, MESSY))
    assert len(started) == 1 and started[0].returncode is not None


def _cleans_forever(job: CleaningJob):
    """Runs in the child: batch after batch, until nobody reads them."""
    batch = next(clean_batches(job))
    while True:
        yield batch


_WRITER_THAT_DIES = """
import os, sys
sys.path.insert(0, {tests!r})
from test_node_import_worker import _cleans_forever
from tagshare.node import import_worker
job = import_worker.CleaningJob({path!r}, {{0: "first_name", 2: "email"}}, 5, "US", [], 2)
child = import_worker._started(job, _cleans_forever)
inbox = import_worker._ReadAhead(child.stdout)
next(import_worker._received(inbox, child))  # it runs
print(child.pid, flush=True)
os._exit(0)  # the writer dies without a word: nobody reads the pipe any more
"""


def _ended(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_a_child_whose_writer_has_gone_stops_by_itself(tmp_path):
    script = _WRITER_THAT_DIES.format(tests=os.path.dirname(__file__),
                                      path=write(tmp_path, MESSY))
    writer = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    pid = int(writer.stdout)
    for _ in range(600):  # it ends by itself at its next write; nobody kills it
        if _ended(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the child outlived its writer by a minute")


def test_the_child_does_not_import_code_from_the_working_directory(node, tmp_path,
                                                                    monkeypatch):
    """A `tagshare` folder where the import is run (a download, a checkout) is not on the
    child's path: it runs the writer's own code."""
    planted = tmp_path / "cwd" / "tagshare" / "node"
    planted.mkdir(parents=True)
    marker = tmp_path / "planted-code-ran"
    (planted / "import_worker.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise SystemExit(9)\n")
    monkeypatch.chdir(tmp_path / "cwd")
    started = _recording_children(monkeypatch)
    report = _import(node.home, write(tmp_path, MESSY))
    assert (report.added, report.skipped) == (3, 4) and started[0].returncode == 0
    assert not marker.exists()


def test_without_an_interpreter_to_start_the_rows_are_cleaned_in_process(
        node, tmp_path, monkeypatch, in_child):
    monkeypatch.setattr(import_worker.sys, "executable", str(tmp_path / "no-python"))
    report = _import(node.home, write(tmp_path, MESSY))
    assert (report.added, report.skipped) == (3, 4)
    monkeypatch.setattr(import_worker.sys, "executable", "")
    report = _import(node.home, write(tmp_path, MESSY))
    assert (report.added, report.updated + report.unchanged) == (0, 3)


_TWO_CORES = csvio._two_cores  # the real one (the fixture replaces it)


def test_one_core_cleans_in_process(node, tmp_path, monkeypatch, in_child):
    monkeypatch.setattr(csvio, "_two_cores", lambda: False)
    _import(node.home, write(tmp_path, MESSY))
    assert in_child == [False]
    in_child.clear()


@pytest.mark.parametrize(("cores", "two"), [(1, False), (None, False), (2, True), (8, True)])
def test_a_child_needs_a_second_core_whatever_the_load(monkeypatch, cores, two):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (7.0, 7.0, 7.0))
    assert _TWO_CORES() is two
