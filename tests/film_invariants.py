"""What must hold of every film item and its label entries, whoever wrote them: the unit tests'
moto table (tests/film_table.py) and the deployed stack's (tests/local_stack.py) check the same rules."""

from __future__ import annotations


def film_problems(key: str, film: dict, entries: list[dict], *, at_rest: bool = True) -> list[str]:
    """What is wrong with a film item and its entries (the visibility rule of the design: an entry
    counts only for a LABELLED film of the same VersionId and JobId). `at_rest`: no job may be
    running any more, so no film may still be PROCESSING."""
    problems = []
    entry_keys = sorted(entry["LabelKey"] for entry in entries)
    if film.get("Status") == "PROCESSING" and at_rest:
        problems.append(f"{key!r}: a film still PROCESSING at rest (job {film.get('JobId')})")
    if "Labels" in film:
        problems.append(f"{key!r}: a film item with a Labels list")
    if film.get("Status") == "LABELLED":
        if entry_keys != film.get("LabelKeys") or film.get("LabelCount") != len(entries):
            problems.append(f"{key!r}: entries {entry_keys}, LabelKeys {film.get('LabelKeys')}, "
                            f"LabelCount {film.get('LabelCount')}")
        for entry in entries:
            if (entry.get("VersionId"), entry.get("JobId")) != (film.get("VersionId"), film.get("JobId")):
                problems.append(f"{key!r}: entry {entry['LabelKey']!r} of version {entry.get('VersionId')} job "
                                f"{entry.get('JobId')}, the film's {film.get('VersionId')} job {film.get('JobId')}")
            if entry.get("Media") != "video" or entry.get("Bucket") != film.get("Bucket"):
                problems.append(f"{key!r}: entry {entry['LabelKey']!r} Media {entry.get('Media')} "
                                f"Bucket {entry.get('Bucket')}")
    return problems
