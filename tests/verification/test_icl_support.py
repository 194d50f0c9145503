"""Shared fixture of the in-context regression tests (no tests here): import it into a test module
(``from test_icl_support import one_torch_thread``) to run that module's tests on one torch thread --
tiny tensors on the shared 2-core machine run ~20x slower with two threads."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
