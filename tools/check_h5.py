#!/usr/bin/env python3
"""List an HDF5 file's datasets and attributes with h5py: `python3 tools/check_h5.py FILE`."""
import sys

import h5py


def show_attrs(obj, indent):
    for k, v in obj.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        print(f"{indent}{k} = {v!r}")


def main(path):
    with h5py.File(path, "r") as f:
        show_attrs(f, "")

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                print(f"{name} {obj.dtype} {obj.shape}")
            else:
                print(f"{name}/")
            show_attrs(obj, "  ")

        f.visititems(visit)


if __name__ == "__main__":
    main(sys.argv[1])
