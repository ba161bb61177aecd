import faiss
import numpy as np
import pytest

from rhtann.signs import sign_vectors, splitmix64


def test_splitmix64_known_values():
    # Reference values of SplitMix64 seeded with 0, computed with Python ints.
    def ref(seed, count):
        m = (1 << 64) - 1
        s, out = seed, []
        for _ in range(count):
            s = (s + 0x9E3779B97F4A7C15) & m
            z = s
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
            out.append(z ^ (z >> 31))
        return out

    for seed in (0, 1, 12345, 2**63 + 5):
        assert splitmix64(seed, 50).tolist() == ref(seed, 50)


@pytest.mark.parametrize("d", [1, 3, 96, 128, 1000])
@pytest.mark.parametrize("seed", [0, 12345, 2**32 - 1])
def test_signs_match_faiss_hadamard_rotation(d, seed):
    hr = faiss.HadamardRotation(d, seed)
    ref = np.stack([faiss.vector_to_array(getattr(hr, f"signs{i}")) for i in (1, 2, 3)])
    np.testing.assert_array_equal(sign_vectors(seed, 3, hr.d_out), ref)


def test_signs_are_balanced_and_prefix_stable():
    s3 = sign_vectors(7, 3, 4096)
    s1 = sign_vectors(7, 1, 4096)
    np.testing.assert_array_equal(s3[:1], s1)
    assert set(np.unique(s3)) == {-1.0, 1.0}
    # Fraction of +1 over 12288 fair draws: sd = 0.5/sqrt(12288) = 0.0045; 5 sd bound.
    assert abs((s3 > 0).mean() - 0.5) < 0.023
