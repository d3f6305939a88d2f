"""jupyter_kernel_test (Debian's python3-jupyter-kernel-test) against the mergelab kernel.

Run from tests/kernel/kernel-test.test.ts with JUPYTER_PATH pointing at
kernel specs written by `mergelab kernel install --prefix <tmp>`:

    JUPYTER_PATH=<tmp>/share/jupyter /usr/bin/python3 -m unittest -v test_mergelab_kernel
"""
import unittest

import jupyter_kernel_test


class MergelabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "mergelab"
    language_name = "mergelab"
    file_extension = ".merge"

    code_hello_world = 'print("hello, world")'
    code_stderr = 'warn("careful: k is large")'
    code_clear_output = 'print("old")\nclear_output()'

    completion_samples = [
        {"text": "pri", "matches": {"print"}},
        {"text": "dare_t", "matches": {"dare_ties"}},
        # keyword arguments of the enclosing call, from the function's spec
        {"text": "ties(xs, ba", "matches": {"base="}},
        {"text": "plot(t, ki", "matches": {"kind="}},
    ]

    complete_code_samples = ["x = 1", "ties(a, base=b)", "print(1)\nprint(2)"]
    incomplete_code_samples = ["x = ties(a,", "y = [1, 2", "def f(x) ="]
    invalid_code_samples = ["x = = 1", "1 +* 2"]

    code_display_data = [
        {"code": 'display(plot([1, 2, 3], kind="bar"))', "mime": "application/vnd.plotly.v1+json"},
        {"code": 'display(plot([1, 2, 3], kind="bar"))', "mime": "text/html"},
        {"code": "display([1, 2])", "mime": "text/plain"},
    ]

    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "xs = [1, 2]\nxs[1] * 10", "result": "20"},
        {"code": '"a" + "b"', "result": '"ab"'},
    ]

    code_history_pattern = "1 + *"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "ties"

    code_generate_error = "y = undefined_name + 1"


if __name__ == "__main__":
    unittest.main()
