"""What every rule must do, read from the rule files themselves (shell commands and params)."""

from __future__ import annotations

import re

from conftest import REPO

RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^\S|\Z)", re.MULTILINE | re.DOTALL)
SHELL = re.compile(r"^    (?:shell|params):\n(.*?)(?=^    \w|\Z)", re.MULTILINE | re.DOTALL)


def shell_commands() -> dict[str, str]:
    commands = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text("utf-8")):
            commands[name] = "".join(SHELL.findall(body))
    return commands


def test_rules_found():
    assert {"convert_triplets", "frequency_filter", "sft_pools"} <= set(shell_commands())


def test_shell_commands_take_paths_from_input_and_output_only():
    """A path spelled in a command is rebuilt from wildcards: it can miss what the DAG declared
    (or pick up files an earlier config left behind). Paths come from {input}/{output}/{log}."""
    rebuilt = {
        name: re.findall(r"(?:results|resources)/\S*", command)
        for name, command in shell_commands().items()
    }
    assert {name: paths for name, paths in rebuilt.items() if paths} == {}


def rule_bodies() -> dict[str, str]:
    return {
        name: body
        for smk in sorted((REPO / "rules").glob("*.smk"))
        for name, body in RULE.findall(smk.read_text("utf-8"))
    }


def test_every_job_has_a_log_the_interpreter_and_its_code_version():
    """Jobs run `python {params.script}` (common.smk puts the interpreter running Snakemake first
    on PATH) and carry code=code_version(<its script>), so a change to the code they run reruns
    them."""
    for name, body in rule_bodies().items():
        if "shell:" not in body:
            continue  # a target rule: no job of its own
        assert "    log:" in body, name
        scripts = re.findall(r'script=script\("([^"]+)"\)', body)
        assert scripts and f'code=code_version("{scripts[0]}")' in body, name
        assert "python {params.script}" in body, name


def test_one_env_file_for_every_rule():
    envs = {m for body in rule_bodies().values() for m in re.findall(r'"\.\./(envs/[^"]+)"', body)}
    assert envs == {"envs/distilldata.yaml"}
    assert (REPO / "envs" / "distilldata.yaml").is_file()
    texts = [p.read_bytes() for p in (REPO / "envs").glob("*.yaml")]
    assert len(set(texts)) == len(texts)  # no byte-identical copies posing as separate envs
