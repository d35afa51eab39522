#!/usr/bin/env python3
"""Print the ExecStart= command of a systemd service unit, expanded as
systemd would for one instance: %i/%I specifiers, Environment= lines,
then the EnvironmentFile (which wins), then ${VAR} (one word) and $VAR
(split on whitespace).  Arguments are printed one per line.

usage: unit_exec.py UNIT_FILE INSTANCE ENV_FILE

This covers only what ossfs@.service uses; it exists so the test can run
the unit's real command line on a machine where systemd is not PID 1.
"""
import re
import shlex
import sys


def unit_lines(path):
    section = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, _, value = line.partition("=")
            yield section, key.strip(), value.strip()


def read_env_file(path, env):
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            env[key.strip()] = " ".join(shlex.split(value.strip()))


def expand(word, env):
    """One ExecStart word: "${X}" stays one argument, "$X" is split."""
    whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
    if whole:
        return env.get(whole.group(1), "").split()
    return [re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                   lambda m: env.get(m.group(1), ""), word)]


def main():
    unit, instance, env_file = sys.argv[1:4]
    env, exec_start = {}, None
    for section, key, value in unit_lines(unit):
        if section != "Service":
            continue
        value = value.replace("%I", instance).replace("%i", instance)
        if key == "Environment":
            for assignment in shlex.split(value):
                name, _, val = assignment.partition("=")
                env[name] = val
        elif key == "ExecStart":
            exec_start = value
    if exec_start is None:
        sys.exit("no ExecStart= in " + unit)
    read_env_file(env_file, env)
    for word in shlex.split(exec_start):
        for arg in expand(word, env):
            print(arg)


if __name__ == "__main__":
    main()
