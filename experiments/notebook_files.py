"""What the notebook generators (make_*notebook.py) share: writing the cells as a notebook of a kernel."""
import pathlib

import nbformat

KERNELS = {
    "mergelab": (
        {"name": "mergelab", "display_name": "MergeLab", "language": "mergelab"},
        {"name": "mergelab", "file_extension": ".merge"},
    ),
    "tslab": (
        {"name": "tslab", "display_name": "TypeScript", "language": "typescript"},
        {"name": "typescript", "file_extension": ".ts"},
    ),
}


def write_notebook(cells, out: pathlib.Path, kernel: str) -> pathlib.Path:
    """Write `cells` to `out` as a notebook for `kernel` ("mergelab" or "tslab"); returns `out`."""
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata["kernelspec"], nb.metadata["language_info"] = KERNELS[kernel]
    nbformat.write(nb, str(out))
    return out
