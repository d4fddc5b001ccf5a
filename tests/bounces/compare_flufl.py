#!/usr/bin/env python3
"""Reads every bounce of a directory with GNU Mailman's flufl.bounce, for tests/bounce_corpus.rs.

Usage: python3 tests/bounces/compare_flufl.py [DIR]
DIR defaults to this script's directory (the corpus relais ships). Every regular file under DIR is read,
except *.py, *.pyc, *.tsv, *.md and __pycache__/, in sorted order; for each one line of JSON is printed:

    {"path": "dsn/standard.eml", "permanent": ["a@example.org"], "temporary": []}

`path` is relative to DIR, with "/"; `permanent` and `temporary` are the addresses flufl.bounce reports as
permanent and temporary failures (flufl.bounce 6.0.0: `all_failures(msg)` returns the pair
(temporary, permanent); `scan_message(msg)` returns the permanent set alone). Messages are parsed as
flufl.bounce's own tests parse them, with email.message_from_binary_file. When a detector raises (some
break on a raw 8-bit From header), the line has both lists empty and an "error" key. Needs
`pip install flufl.bounce`.
"""

import json
import os
import sys
from email import message_from_binary_file

from flufl.bounce import all_failures

SKIPPED_SUFFIXES = ('.py', '.pyc', '.tsv', '.md')


def corpus(root):
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d != '__pycache__')
        for name in sorted(files):
            if not name.endswith(SKIPPED_SUFFIXES):
                yield os.path.join(directory, name)


def addresses(found):
    return sorted(a.decode('ascii', 'replace') for a in found)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for path in sorted(corpus(root), key=lambda p: os.path.relpath(p, root)):
        with open(path, 'rb') as fp:
            message = message_from_binary_file(fp)
        line = {'path': os.path.relpath(path, root).replace(os.sep, '/'), 'permanent': [], 'temporary': []}
        try:
            temporary, permanent = all_failures(message)
            line['permanent'] = addresses(permanent)
            line['temporary'] = addresses(temporary)
        except Exception as error:  # A detector that breaks on a message finds nothing in it.
            line['error'] = f'{type(error).__name__}: {error}'
        print(json.dumps(line))


if __name__ == '__main__':
    main()
