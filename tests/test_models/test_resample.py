"""``kdep_mm.models.taps.resample``: a teacher map on the student's grid,
against hand computations at non-integer ratios."""
import torch
import torch.nn.functional as F

from kdep_mm.models.taps.resample import (area_weights, linear_weights,
                                          resample_map)


def test_area_weights_7_to_4_by_hand():
    """Student cell i spans teacher cells [1.75 i, 1.75 (i + 1)): cell 0
    takes all of cell 0 and 3/4 of cell 1, cell 1 the last 1/4 of cell 1,
    all of 2 and 1/2 of 3, ..."""
    w = area_weights(7, 4)
    q = 1 / 1.75
    want = torch.tensor([
        [1, 0.75, 0, 0, 0, 0, 0],
        [0, 0.25, 1, 0.5, 0, 0, 0],
        [0, 0, 0, 0.5, 1, 0.25, 0],
        [0, 0, 0, 0, 0, 0.75, 1],
    ],
                        dtype=torch.float64) * q
    torch.testing.assert_close(w, want)


def test_non_integer_area_resampling_is_overlap_weighted():
    """A 7x7 ViT grid to 4x4: each output is the overlap-weighted mean;
    the unweighted adaptive pool (overlapping windows) differs."""
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(0))
    got = resample_map(x, (4, 4))
    w = area_weights(7, 4).float()
    i, j = 1, 2
    hand = sum(w[i, a] * w[j, b] * x[:, :, a, b] for a in range(7)
               for b in range(7))
    torch.testing.assert_close(got[:, :, i, j], hand)
    old = F.adaptive_avg_pool2d(x, (4, 4))
    assert not torch.allclose(got, old, atol=1e-3)
    # a constant map stays constant; the mean over the image is kept
    torch.testing.assert_close(
        resample_map(torch.ones(1, 1, 7, 5), (4, 3)), torch.ones(1, 1, 4, 3))
    torch.testing.assert_close(got.mean((2, 3)), x.mean((2, 3)))


def test_upsampling_is_bilinear_between_centres_and_mixed_axes_work():
    x = torch.randn(1, 2, 5, 6, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        resample_map(x, (7, 9)),
        F.interpolate(x, size=(7, 9), mode='bilinear', align_corners=False))
    # rows coarser (5 -> 7, linear), columns finer (6 -> 4, area)
    got = resample_map(x, (7, 4))
    rows, cols = linear_weights(5, 7).float(), area_weights(6, 4).float()
    torch.testing.assert_close(got, rows @ x @ cols.T)


def test_integer_ratios_keep_the_block_mean():
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    got = resample_map(x, (4, 4))
    assert torch.equal(got, F.interpolate(x, size=(4, 4), mode='area'))
    torch.testing.assert_close(got[0, :, 0, 0], x[0, :, :2, :2].mean((1, 2)))


def test_resampling_commutes_with_a_projection():
    """Linear: resampling the projected map equals projecting the
    resampled map (why a cache may store projections on the teacher's
    grid)."""
    g = torch.Generator().manual_seed(3)
    x, p = torch.randn(2, 6, 7, 7, generator=g), torch.randn(6, 3, generator=g)

    def project(m):
        return torch.einsum('bchw,ck->bkhw', m, p)

    torch.testing.assert_close(
        resample_map(project(x), (4, 4)), project(resample_map(x, (4, 4))))
