"""How many torch threads a CPU run should use on a machine that other jobs may share."""

from __future__ import annotations

import os
from pathlib import Path

MAX_THREADS = 8
"""More intra-op threads than this gain little for models of MiniLM's size at batch 32."""


def physical_cores(cpus: set[int], cpuinfo: str) -> int:
    """How many physical cores the logical ``cpus`` sit on, from the text of ``/proc/cpuinfo``
    (two hyperthreads of one core count once); ``len(cpus)`` when the text does not say."""
    cores, cpu, package = set(), None, None
    for line in cpuinfo.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            cpu, package = int(value), None
        elif key == "physical id":
            package = value
        elif key == "core id" and cpu in cpus:
            cores.add((package, value))
    return len(cores) if cores else len(cpus)


def available_cores() -> int:
    """Physical cores this process may run on (its CPU affinity, e.g. a container's share), at least 1."""
    try:
        cpus = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    return max(1, physical_cores(cpus, text))


def choose_threads(requested: int | None = None, cores: int | None = None,
                   load: float | None = None) -> tuple[int, str]:
    """Torch intra-op threads for a CPU run, and the reason, in words.

    With ``requested`` it is that number. Otherwise the cores that the last minute's load average
    leaves free, between 1 and :data:`MAX_THREADS`: torch's threads wait for each other at every
    operation, so a thread that shares its core with another job stalls all of them (on 2 busy
    cores, 2 threads made a training step up to 10x slower than 1 thread did).

    Args:
        requested: a thread count given by the user (>= 1).
        cores, load: the available cores and the 1-minute load average (default: this machine's).
    """
    if requested is not None:
        if requested < 1:
            raise ValueError(f"threads must be >= 1, got {requested}")
        return requested, "as asked"
    cores = available_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    free = int(cores - load + 0.5)
    threads = max(1, min(cores, free, MAX_THREADS))
    reason = f"{cores} cores, load average {load:.1f} over the last minute: {max(free, 0)} free"
    if threads < cores:
        reason += "; more threads than free cores would make every step wait for the busy ones"
    if threads < cores or threads == MAX_THREADS:
        reason += "; --threads N to choose"
    return threads, reason


def other_load(load: float, own_threads: int) -> float:
    """The load average less this process's own running threads (torch's intra-op threads all
    run while it computes), so that a run does not count itself as another job."""
    return max(0.0, load - own_threads)
