"""Receptive fields against brute-force impulse responses computed with conv; parameter/MAC counts."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import conv_lib

SETTINGS = dict(deadline=None, derandomize=True)


def _support_through_stack(layers, n_in, out_index):
    """Input positions that influence output ``out_index``: the nonzero support of d y / d x.

    Computed as a brute-force sum of impulse responses with all-ones kernels (positive weights so
    nothing cancels): for each input position, push a delta through the stack with conv_lib.conv.
    """
    hit = []
    for i in range(n_in):
        x = np.zeros((1, 1, n_in))
        x[0, 0, i] = 1.0
        for k, s, d, p in layers:
            x = conv_lib.conv(x, np.ones((1, 1, k)), stride=s, dilation=d, padding=[(p, 0)])
        if out_index < x.shape[-1] and x[0, 0, out_index] != 0:
            hit.append(i)
    return hit


@st.composite
def stacks(draw):
    return [(draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(0, 2))) for _ in range(draw(st.integers(1, 4)))]


@settings(max_examples=60, **SETTINGS)
@given(layers=stacks(), out_index=st.integers(0, 6))
def test_receptive_field_and_region_match_impulse_responses(layers, out_index):
    rf = conv_lib.receptive_field([l[:3] for l in layers])
    start, stop = conv_lib.input_region(layers, out_index)
    assert stop - start == rf
    n_in = stop + 2
    try:
        conv_lib.output_shape([n_in], [1])
        hit = _support_through_stack(layers, n_in, out_index)
    except ValueError:        # the stack does not fit such a short input
        return
    if not hit:               # output index beyond the last layer's output
        return
    # every position the impulse reached lies in the region (dilation may leave holes inside it),
    # and when the region lies inside the input its first and last samples are both reached
    assert start <= hit[0] and hit[-1] < stop
    if start >= 0:
        assert (hit[0], hit[-1]) == (start, stop - 1)


def test_receptive_field_table_jumps_and_seed_numbers():
    rows = conv_lib.receptive_field_table([(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1), (3, 1, 1)])
    assert [r["rf"] for r in rows] == [3, 5, 6, 10, 14]
    assert [r["jump_in"] for r in rows] == [1, 1, 1, 2, 2]
    assert conv_lib.receptive_field([(3, 1, 1)] * 3) == 7
    assert [r["rf"] for r in conv_lib.receptive_field_table([(2, 1, 2 ** i) for i in range(4)])] == [2, 4, 8, 16]
    assert conv_lib.receptive_field([(2, 1, 2 ** i) for i in range(10)]) == 1024


def test_receptive_field_measured_by_torch_gradient():
    """Independent check: the gradient support through real torch layers, max-pool included."""
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.Conv2d(1, 1, 3), torch.nn.MaxPool2d(2, 2),
                              torch.nn.Conv2d(1, 1, 3), torch.nn.Conv2d(1, 1, 3))
    for m in net:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.constant_(m.weight, 1.0)
    x = torch.rand(1, 1, 32, 32, requires_grad=True)
    y = net(x)
    y[0, 0, 0, 0].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    # max-pool routes the gradient to one element per window, so measure the extent, not the count
    extent = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
    assert extent <= conv_lib.receptive_field([(3, 1), (3, 1), (2, 2), (3, 1), (3, 1)]) == 14
    net[2] = torch.nn.AvgPool2d(2, 2)
    x.grad = None
    net(x)[0, 0, 0, 0].backward()
    rows, cols = np.nonzero(x.grad[0, 0].numpy())
    assert rows.max() - rows.min() + 1 == 14 and cols.max() - cols.min() + 1 == 14


def test_conv_params_matches_torch_modules():
    import torch
    for c_in, c_out, k, g, bias in [(3, 32, 3, 1, True), (32, 64, 5, 1, True), (64, 128, (3, 1), 2, False),
                                    (128, 128, 3, 128, True)]:
        m = torch.nn.Conv2d(c_in, c_out, k, groups=g, bias=bias)
        assert conv_lib.conv_params(c_in, c_out, k if isinstance(k, tuple) else (k, k), g, bias) == \
            sum(p.numel() for p in m.parameters())
    assert conv_lib.conv_params(1, 1, (3, 3), bias=False) * 2 / conv_lib.conv_params(1, 1, (5, 5), bias=False) == 18 / 25


def test_conv_macs_counts_every_output_times_window():
    assert conv_lib.conv_macs((8, 64, 56, 56), (64, 64, 3, 3), padding=1) == 8 * 64 * 56 * 56 * 64 * 9
    assert conv_lib.conv_macs((8, 128, 56, 56), (128, 1, 3, 3), padding=1, groups=128) == 8 * 128 * 56 * 56 * 9
    assert conv_lib.conv_flops((1, 1, 5), (1, 1, 3)) == 2 * 3 * 3
