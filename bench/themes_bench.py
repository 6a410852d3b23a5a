"""Benchmark theme analysis: speed on 100,000 answers, and quality on held-out development data.

Run: ``.venv/bin/python bench/themes_bench.py`` for everything (speed of every method, then the
quality figures); ``--speed`` or ``--quality`` for one part; ``--robustness`` for the older
per-subset discovery table.

Quality is measured only on data that was not used to choose a setting: the codebook's
significance level (0.01) was chosen on the *tuning* halves of three random splits
(``bench/codebook_eval.py``); every figure printed is on the *held-out* halves, on held-out
halves with one label's answers removed, and on samples; the weakest figure is printed.

Each method runs in its own child process so its peak memory (``ru_maxrss``) is its own; the
data are rebuilt deterministically in each child (resampled development answers with light
perturbation: word drops, duplicated words, shuffled clauses). Quality (NMI against the human
labels) is measured on the development set itself.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DEV = ROOT.parent / "shared" / "data" / "nhs_fft_phase2_dev" / "responses.csv"
GROUPS = ("parents", "vcs", "cc_staff", "la")


def load_dev() -> tuple[list[str], list[str], list[str]]:
    """Texts, labels and groups of the development set."""
    with DEV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["label"] for r in rows], [r["group"] for r in rows]


def perturb(text: str, rng: np.random.Generator) -> str:
    """A lightly changed copy: drop a word, repeat a word, or swap two sentences."""
    words = text.split()
    roll = rng.random()
    if roll < 0.3 and len(words) > 3:
        del words[int(rng.integers(len(words)))]
    elif roll < 0.45 and words:
        i = int(rng.integers(len(words)))
        words.insert(i, words[i])
    elif roll < 0.6:
        parts = text.split(". ")
        if len(parts) > 1:
            rng.shuffle(parts)
            return ". ".join(parts)
    return " ".join(words)


def build(n: int) -> tuple[list[str], list[str]]:
    """``n`` deterministic responses resampled from the development set, with groups."""
    texts, _, groups = load_dev()
    rng = np.random.default_rng(12345)
    idx = rng.integers(0, len(texts), n)
    return [perturb(texts[i], rng) for i in idx], [groups[i] for i in idx]


def peak_mb() -> float:
    """This process's peak resident memory in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_codebook(texts: list[str], groups: list[str]) -> int:
    from bot.analysis import Comment, apply_codebook, load_codebook

    comments = [
        Comment(str(i), t, g, f"p{i}") for i, (t, g) in enumerate(zip(texts, groups, strict=True))
    ]
    book = load_codebook(DEV.parent / "codebook.yaml")
    result = apply_codebook(comments, book)
    return len(result.themes)


def run_embeddings(texts: list[str], groups: list[str], k: int | None) -> int:
    from bot.analysis import SPECIAL_THEMES, Comment, discover_themes

    comments = [
        Comment(str(i), t, g, f"p{i}") for i, (t, g) in enumerate(zip(texts, groups, strict=True))
    ]
    result = discover_themes(comments, n_themes=k, vectoriser="embeddings")
    return len([t for t in result.themes if t.theme_id not in SPECIAL_THEMES])


def run_ours(texts: list[str], groups: list[str], k: int | None) -> int:
    from bot.analysis import SPECIAL_THEMES, Comment, discover_themes

    comments = [
        Comment(str(i), t, g, f"p{i}") for i, (t, g) in enumerate(zip(texts, groups, strict=True))
    ]
    result = discover_themes(comments, n_themes=k)
    return len([t for t in result.themes if t.theme_id not in SPECIAL_THEMES])


def run_peer(texts: list[str], k: int) -> int:
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer().fit_transform(texts)
    KMeans(n_clusters=k, random_state=0).fit(x)
    return k


def worker(method: str, n: int, k: int | None) -> None:
    """Child process: build data, time one method, print JSON."""
    texts, groups = build(n)
    base = peak_mb()
    start = time.perf_counter()
    if method == "ours":
        themes = run_ours(texts, groups, k)
    elif method == "codebook":
        themes = run_codebook(texts, groups)
    elif method == "embeddings":
        themes = run_embeddings(texts, groups, k)
    else:
        themes = run_peer(texts, k or 10)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "base_mb": base, "themes": themes}))


def measure(method: str, n: int, k: int | None) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", method, "--n", str(n)]
    if k is not None:
        cmd += ["--k", str(k)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def robustness_subsets(labels: list[str]) -> list[tuple[str, str, np.ndarray]]:
    """(kind, name, row indices) of the development-set subsets the robustness table reports."""
    n = len(labels)
    lab = np.array(labels)
    out = [("full set", "full", np.arange(n))]
    for s in (1, 2, 3):
        p = np.random.default_rng(100 + s).permutation(n)
        out += [("random halves", f"half {s}a", np.sort(p[: n // 2]))]
        out += [("random halves", f"half {s}b", np.sort(p[n // 2 :]))]
    for s, size in enumerate((1000, 1200, 1500), start=1):
        idx = np.sort(np.random.default_rng(200 + s).choice(n, size, replace=False))
        out.append(("samples 1,000-1,500", f"sample {size}", idx))
    for name in sorted(set(labels)):
        out.append(("leave one label out", f"without {name}", np.flatnonzero(lab != name)))
    for s in (1, 2, 3):
        rng = np.random.default_rng(300 + s)
        parts = [
            rng.choice(np.flatnonzero(lab == name), min(150, int((lab == name).sum())), False)
            for name in sorted(set(labels))
        ]
        out.append(("<= 150 per label", f"capped {s}", np.sort(np.concatenate(parts))))
    return out


def robustness() -> None:
    """Print NMI and the number of themes per subset kind (min / mean / max)."""
    from rich.console import Console
    from rich.table import Table
    from sklearn.metrics import normalized_mutual_info_score as nmi

    from bot.analysis import SPECIAL_THEMES, Comment, discover_themes

    texts, labels, groups = load_dev()
    rows: dict[str, list[tuple[float, int]]] = {}
    console = Console()
    for kind, name, idx in robustness_subsets(labels):
        with console.status(f"{name} ({len(idx)} responses)…"):
            comments = [Comment(str(i), texts[i], groups[i], f"p{i}") for i in idx]
            result = discover_themes(comments)
        k = len([t for t in result.themes if t.theme_id not in SPECIAL_THEMES])
        score = nmi([labels[i] for i in idx], [a.theme_id for a in result.assignments])
        console.print(f"{name:40s} n={len(idx):5d}  NMI {score:.3f}  themes {k}")
        rows.setdefault(kind, []).append((score, k))
    table = Table(title="Theme discovery on development-set subsets")
    for col in ("subsets", "runs", "NMI min", "NMI mean", "NMI max", "themes"):
        table.add_column(col, justify="right" if col != "subsets" else "left")
    for kind, values in rows.items():
        scores = [v for v, _ in values]
        ks = [k for _, k in values]
        table.add_row(
            kind,
            str(len(values)),
            f"{min(scores):.3f}",
            f"{np.mean(scores):.3f}",
            f"{max(scores):.3f}",
            f"{min(ks)}-{max(ks)}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of responses")
    parser.add_argument(
        "--worker", choices=("ours", "peer", "codebook", "embeddings"), help=argparse.SUPPRESS
    )
    parser.add_argument("--speed", action="store_true", help="only the speed run")
    parser.add_argument("--quality", action="store_true", help="only the held-out quality")
    parser.add_argument("--k", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--robustness", action="store_true", help="NMI on dev-set subsets")
    args = parser.parse_args()
    if args.robustness:
        robustness()
        return
    if args.worker:
        worker(args.worker, args.n, args.k)
        return
    if not args.quality:
        speed(args.n)
    if not args.speed:
        from quality import held_out_quality

        held_out_quality()


def speed(n: int) -> None:
    """Time and peak memory of every method on ``n`` answers, beside a bare peer."""
    from rich.console import Console
    from rich.table import Table

    from bot.analysis.embeddings import available

    console = Console()
    with console.status(f"discover_themes on {n:,} responses…"):
        ours = measure("ours", n, None)
    k = int(ours["themes"])
    with console.status(f"codebook matching on {n:,} responses…"):
        book = measure("codebook", n, None)
    with console.status(f"TF-IDF + KMeans (k={k}) on {n:,} responses…"):
        peer = measure("peer", n, k)
    emb = None
    if available():
        with console.status(f"embeddings discovery on {n:,} responses…"):
            emb = measure("embeddings", n, k)

    table = Table(title=f"Speed, {n:,} responses (2-core target: <30 s, <1.5 GB)")
    for col in ("method", "themes", "wall s", "peak MB", "peak - data MB", "ratio s to peer"):
        table.add_column(col, justify="right" if col != "method" else "left")
    rows = [
        ("discover_themes (default)", ours),
        ("apply_codebook (dev codebook)", book),
        ("TF-IDF + KMeans (bare peer)", peer),
    ]
    if emb is not None:
        rows.append(("discover_themes, embeddings", emb))
    for name, fig in rows:
        table.add_row(
            name,
            str(int(fig["themes"])),
            f"{fig['seconds']:.1f}",
            f"{fig['peak_mb']:.0f}",
            f"{fig['peak_mb'] - fig['base_mb']:.0f}",
            f"{fig['seconds'] / peer['seconds']:.2f}",
        )
    console.print(table)
    if emb is None:
        console.print(
            "embeddings: not installed (pip install listening-bot[embeddings]); skipped",
            markup=False,
        )
    for name, fig in rows[:2]:
        ok = fig["seconds"] < 30 and fig["peak_mb"] < 1536
        console.print(f"{name}: " + ("[green]within target[/]" if ok else "[red]outside target[/]"))


if __name__ == "__main__":
    main()
