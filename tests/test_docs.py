"""The README is the operator's and the broker developer's first page (PROTOCOL: every change to the contract is
recorded in the README): what it says of the command line, the exit codes and the reasons of refusals is checked
against the code here, so that neither drifts from the other unnoticed."""
from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

from certx import mistakes
from certx.cli import parser
from certx.wire.reasons import Reason, SettlementReason

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "README.md", ROOT / "deploy" / "README.md")


def _subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a.choices for a in p._actions if isinstance(a, argparse._SubParsersAction))


def _shown_commands(text: str) -> list[str]:
    """Every `.venv/bin/certx …` line of the docs' shell examples, continuations joined, with the shell's part
    (a comment, `&`, a pipe or a redirection, `[optional]` brackets, `$(…)` and `$variables`) taken away."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        if ".venv/bin/certx " not in line:
            continue
        line = line[line.index(".venv/bin/certx ") + len(".venv/bin/certx "):]
        line = re.split(r" #| && | > | \| ", line)[0].strip().removesuffix("&")
        line = re.sub(r"\$\([^)]*\)", "x", line).replace("[", "").replace("]", "")
        found.append(re.sub(r"\$(\w+)", r"\1", line).strip())
    return found


def test_every_command_line_shown_in_the_readme_parses():
    """Each `certx` command of the README's examples names subcommands and flags that exist, spelt as shown."""
    shown = _shown_commands((ROOT / "README.md").read_text())
    assert len(shown) > 20, "the scan no longer finds the README's commands"
    refused = []
    for command in shown:
        try:
            parser().parse_args(shlex.split(command))
        except SystemExit:
            refused.append(command)
    assert not refused, refused


def test_every_subcommand_and_flag_named_inline_exists():
    """`certx <cmd> … --flag` written in the README's prose: the subcommand exists and takes the flag."""
    top = _subcommands(parser())
    text = "\n".join(d.read_text() for d in DOCS)
    wrong = []
    for inline in re.findall(r"`certx ([a-z][^`]*)`", text):
        names, *rest = inline.split()
        for name in names.split("|"):         # `certx holdings|certificate|retirements --db`
            sub = top.get(name)
            if sub is None:
                wrong.append(inline)
                continue
            if name == "days" and rest[:1] == ["build"]:
                sub = _subcommands(sub)["build"]
            flags = {s for a in sub._actions for s in a.option_strings}
            wrong += [f"{inline}: {w}" for w in rest if w.lstrip("[").startswith("--")
                      and w.lstrip("[").rstrip("]").split("=")[0] not in flags]
    assert not wrong, wrong


def test_every_reason_of_refusal_is_in_the_readme():
    """DOMAIN "Reject reasons", README "The wire contract": a sender learns every `reason` it may be answered with
    from the README (Reason, and SettlementReason for settlement.rejected)."""
    readme = (ROOT / "README.md").read_text()
    missing = [r.value for vocabulary in (Reason, SettlementReason) for r in vocabulary
               if f"`{r.value}`" not in readme]
    assert not missing, missing


def test_the_readme_lists_every_exit_code_of_the_mistakes_table():
    """DESIGN 8: the exit codes a script may meet, as the README's "Mistakes" gives them, are the table's in
    certx.mistakes, and every Mistake's code is in that table."""
    table = {int(code) for code in re.findall(r"^\| (\d+) +\|", mistakes.__doc__, re.M)}
    codes = {cls.code for cls in vars(mistakes).values()
             if isinstance(cls, type) and issubclass(cls, mistakes.Mistake)} | {mistakes.INTERRUPTED}
    assert codes <= table, codes - table
    readme = (ROOT / "README.md").read_text()
    paragraph = readme[readme.index("**Mistakes.**"):].split("\n\n", 1)[0]
    listed = {int(n) for n in re.findall(r"(?:: |, )(\d+) (?!s\b)", paragraph)}
    assert listed == table, (sorted(listed), sorted(table))
