"""Benchmark: assemble and render the protocol of a big meeting.

A 3-hour meeting, 300 participants, 20,000 generated events (presence with reconnects, an
agenda of 6 items, 60 floor turns, detected speech, hands, 3,000 chat messages, 10 named
decision polls with ~250 ballots each). Prints the assembly time and each rendering's time
(goal: HTML + DOCX + PDF < 2 s in total) and ends with one JSON line.

    .venv/bin/python bench/protocol.py [--events 20000] [--participants 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.domain.protocol import assemble_protocol, render_docx, render_html, render_pdf, render_text
from tests.support.logs import LogBuilder, meeting_info

MINUTES = 180
ITEMS = 6


def build(events_target: int, participants: int, seed: int = 7) -> tuple[Any, list[Any]]:
    rng = random.Random(seed)
    agenda = tuple((f"О вопросе № {n + 1} методической работы", n * 3) for n in range(ITEMS))
    info = meeting_info(participants, agenda=agenda)
    people = info.members
    # Every action is put on a timeline first, then replayed in time order through the builder.
    timeline: list[tuple[float, int, Callable[[LogBuilder], Any]]] = []
    order = 0

    def at(minute: float, action: Callable[[LogBuilder], Any]) -> None:
        nonlocal order
        order += 1
        timeline.append((minute, order, action))

    for p in people:
        t = rng.uniform(0, 20)
        at(t, lambda b, p=p: b.join(p))
        if rng.random() < 0.4:  # a reconnect
            off = rng.uniform(30, 150)
            at(off, lambda b, p=p: b.leave(p, "disconnect"))
            at(off + rng.uniform(0.5, 10), lambda b, p=p: b.join(p))
    span = MINUTES / ITEMS
    for n in range(ITEMS):
        start = 1 + n * span
        at(start, lambda b, n=n: b.item(101 + n, n + 1, agenda[n][0]))
        at(start + span - 1, lambda b, n=n: b.item_end(101 + n))
        for k in range(10):  # floor turns
            p = people[rng.randrange(participants)]
            t = start + 1 + k * (span - 5) / 10
            at(t, lambda b, p=p: b.floor(p))
            at(t + rng.uniform(0.5, 2.5), lambda b, p=p: b.floor(p, False))
    for n in range(10):  # decision polls, about 250 ballots each
        item = n % ITEMS
        t0 = 1 + item * span + span - 4 + (n // ITEMS) * 1.2
        at(t0, lambda b, n=n, item=item: b.poll(n + 1, f"Решение № {n + 1}", agenda_item_id=101 + item))
        for j, p in enumerate(rng.sample(people, 250)):
            at(t0 + 0.01 + j * 0.0025, lambda b, n=n, p=p: b.vote(n + 1, p, rng.choice((0, 0, 0, 1, 2))))
        at(t0 + 1, lambda b, n=n: b.close(n + 1, participants, participants - 20))
    for _ in range(3000):
        p = people[rng.randrange(participants)]
        at(
            rng.uniform(20, MINUTES - 1),
            lambda b, p=p: b.chat(p, "Согласен с докладчиком, предлагаю дополнить пункт."),
        )
    at(
        MINUTES - 0.5,
        lambda b: b.snapshot(1, "Решение заседания", "\n".join(f"Пункт {i}" for i in range(50))),
    )
    fixed = len(timeline) + 2
    remaining = max(0, events_target - fixed)
    for _ in range(remaining // 2):  # detected speech and hands fill up to the target
        p = people[rng.randrange(participants)]
        t = rng.uniform(1, MINUTES - 1)
        if rng.random() < 0.8:
            at(t, lambda b, p=p: b.speech(p))
            at(t + rng.uniform(0.05, 0.5), lambda b, p=p: b.speech(p, False))
        else:
            at(t, lambda b, p=p: b.add("hand.raised", {"participant": p.key}, p.key))
            at(t + 0.3, lambda b, p=p: b.add("hand.lowered", {"participant": p.key}, p.key))
    b = LogBuilder().begin()
    for minute, _, action in sorted(timeline, key=lambda x: (x[0], x[1])):
        action(b.at(minute))
    b.at(MINUTES).end()
    return info, b.events


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    info, events = build(args.events, args.participants)
    t_assemble, protocol = timed(lambda: assemble_protocol(info, events), args.repeat)
    t_short, _ = timed(lambda: assemble_protocol(info, events, form="short"), args.repeat)
    t_text, text = timed(lambda: render_text(protocol), args.repeat)
    t_html, html = timed(lambda: render_html(protocol), args.repeat)
    t_docx, docx = timed(lambda: render_docx(protocol), args.repeat)
    t_pdf, pdf = timed(lambda: render_pdf(protocol), max(1, args.repeat - 2))
    renderings = t_html + t_docx + t_pdf
    short = assemble_protocol(info, events, form="short")
    t_short_docx, _ = timed(lambda: render_docx(short), 1)
    t_short_pdf, _ = timed(lambda: render_pdf(short), 1)
    load = os.getloadavg()[0]
    print(f"events {len(events)}, participants {args.participants}, present {len(protocol.present)}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} (figures are inflated when busy)")
    print(f"assemble (full)  {t_assemble * 1000:8.1f} ms")
    print(f"assemble (short) {t_short * 1000:8.1f} ms")
    print(f"render text      {t_text * 1000:8.1f} ms  ({len(text.splitlines())} lines)")
    print(f"render HTML      {t_html * 1000:8.1f} ms  ({len(html) // 1024} KiB)")
    print(f"render DOCX      {t_docx * 1000:8.1f} ms  ({len(docx) // 1024} KiB)")
    print(f"render PDF       {t_pdf * 1000:8.1f} ms  ({len(pdf) // 1024} KiB)")
    print(
        f"HTML+DOCX+PDF    {renderings * 1000:8.1f} ms  (goal < 2000 ms: {'met' if renderings < 2 else 'NOT met'})"
    )
    figures = {
        "bench": "protocol",
        "events": len(events),
        "participants": args.participants,
        "assemble_ms": round(t_assemble * 1000, 1),
        "assemble_short_ms": round(t_short * 1000, 1),
        "text_ms": round(t_text * 1000, 1),
        "html_ms": round(t_html * 1000, 1),
        "docx_ms": round(t_docx * 1000, 1),
        "pdf_ms": round(t_pdf * 1000, 1),
        "renderings_ms": round(renderings * 1000, 1),
        "short_docx_ms": round(t_short_docx * 1000, 1),
        "short_pdf_ms": round(t_short_pdf * 1000, 1),
        "goal_met": renderings < 2,
        "load_average": round(load, 1),
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
