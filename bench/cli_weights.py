"""``colorbench weights``: list, check and fetch the pretrained networks."""

from __future__ import annotations

import argparse
import json

from .cli_common import add_command
from .core import weights as W

_DESCRIPTION = """\
Every pretrained network colorbench uses, resolved through the libraries' standard cache,
$TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints).

  colorbench weights list            each network: file name, present or missing, what needs it
  colorbench weights check [NAME..]  verify SHA-256 checksums (exit 1 on a mismatch)
  colorbench weights fetch [NAME..]  download missing files (refused with COLORBENCH_OFFLINE=1)

On a machine without internet, copy the files listed by 'list' into the folder it prints.
"""


def register(subparsers) -> None:
    parser = add_command(subparsers, "weights", "list, check or fetch the pretrained network files", _DESCRIPTION)
    parser.add_argument("action", choices=("list", "check", "fetch"), help="what to do")
    parser.add_argument("names", nargs="*", metavar="NAME", help="networks to check or fetch (default: all)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    parser.set_defaults(func=run)


def _rows(names):
    for name in names:
        spec = W.get_weight_spec(name)
        yield spec, W.weight_path(name)


def run(args: argparse.Namespace) -> int:
    names = args.names or list(W.WEIGHTS)
    for name in names:
        W.get_weight_spec(name)  # unknown names fail before any work
    if args.action == "list":
        return _list(names, args.json)
    if args.action == "check":
        return _check(names, args.json)
    for name in names:
        path = W.ensure_weights(name)
        print(f"{name}: {path}")
    return 0


def _list(names, as_json: bool) -> int:
    rows = [{"name": s.name, "file": s.file_name, "present": p.is_file(), "path": str(p), "library": s.library,
             "used_for": s.used_for, "url": s.url} for s, p in _rows(names)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"weights folder: {W.checkpoints_dir()}" + ("  (offline mode)" if W.is_offline() else ""))
    width = max(len(r["file"]) for r in rows)
    for r in rows:
        state = "present" if r["present"] else "MISSING"
        print(f"  {r['name']:<18} {r['file']:<{width}}  {state:<8} {r['used_for']}")
    missing = [r for r in rows if not r["present"]]
    if missing:
        print(f"{len(missing)} missing: the metrics that need them are skipped (never guessed). "
              f"Put each file in the folder above; URLs: colorbench weights list --json")
    return 0


def _check(names, as_json: bool) -> int:
    rows = []
    for spec, _ in _rows(names):
        status, detail = W.verify_weights(spec.name)
        rows.append({"name": spec.name, "file": spec.file_name, "status": status, "detail": detail})
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"  {r['name']:<18} {r['status']:<10} {r['detail']}")
    return 1 if any(r["status"] == "mismatch" for r in rows) else 0
