"""Unpack Pyro4's own test modules from its source distribution.

usage: extract_suite.py <download dir holding Pyro4-4.82.tar.gz> <destination dir>

Writes only Pyro4-4.82/tests/PyroTests/*.py, by base name, into the
destination (which must not exist yet), so nothing outside it is touched.
Called by tests/src/python.rs (pyro4_test_suite) after `pip download`.
"""
import os
import sys
import tarfile

SDIST = "Pyro4-4.82.tar.gz"
FOLDER = "Pyro4-4.82/tests/PyroTests"


def main(src, dst):
    os.makedirs(dst)
    count = 0
    with tarfile.open(os.path.join(src, SDIST)) as tar:
        for member in tar.getmembers():
            head, _, name = member.name.rpartition("/")
            if member.isfile() and head == FOLDER and name.endswith(".py"):
                with open(os.path.join(dst, name), "wb") as out:
                    out.write(tar.extractfile(member).read())
                count += 1
    if count == 0:
        sys.exit("no %s/*.py in %s" % (FOLDER, SDIST))
    print("extracted %d test modules into %s" % (count, dst))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
