"""Execute a notebook headless with nbclient and report its outputs as JSON.

    JUPYTER_PATH=... /usr/bin/python3 execute_notebook.py NOTEBOOK [--out EXECUTED.ipynb] [--html PAGE.html] [--timeout S]

The kernel runs in the notebook's own folder (relative paths and caches
resolve there). Any error output fails the run (nbclient raises). Prints one
JSON object: per code cell its source, the output types, and for each output
its mime types and whether the plotly bundle is an object. With --out the
executed notebook is written (used to commit notebooks with their outputs);
with --html it is also exported with nbconvert's HTML exporter.
"""
import argparse
import json
import os
import sys
import time

import nbclient
import nbformat


def describe(nb):
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            entry = {"output_type": out.output_type}
            if out.output_type == "stream":
                entry["name"] = out.name
                entry["text"] = out.text[-2000:]
            elif out.output_type == "error":
                entry["ename"] = out.ename
                entry["evalue"] = out.evalue
            else:
                data = out.get("data", {})
                entry["mimes"] = sorted(data.keys())
                plotly = data.get("application/vnd.plotly.v1+json")
                if plotly is not None:
                    entry["plotly_is_object"] = isinstance(plotly, dict)
                    entry["plotly_traces"] = [t.get("type") for t in plotly.get("data", [])] if isinstance(plotly, dict) else []
                entry["text_plain"] = str(data.get("text/plain", ""))[:2000]
            outputs.append(entry)
        cells.append({"source": cell.source, "outputs": outputs})
    return cells


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("--out")
    ap.add_argument("--html")
    ap.add_argument("--timeout", type=int, default=300)
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    folder = os.path.dirname(os.path.abspath(args.notebook))
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    started = time.time()
    client = nbclient.NotebookClient(
        nb,
        kernel_name=kernel,
        timeout=args.timeout,
        resources={"metadata": {"path": folder}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        print(json.dumps({"error": str(e)[-4000:]}))
        sys.exit(1)
    seconds = time.time() - started
    if args.out:
        nbformat.write(nb, args.out)
    if args.html:
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nb)
        with open(args.html, "w", encoding="utf-8") as f:
            f.write(body)
    print(json.dumps({"kernel": kernel, "seconds": seconds, "cells": describe(nb)}))


if __name__ == "__main__":
    main()
