import numpy as np
from PIL import Image

from goemox.calibration.report import plot_class_ece, plot_class_reliability, plot_overall_reliability
from goemox.scores import sigmoid


def test_diagrams_are_written_for_any_number_of_labels(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(-1, 2, size=(300, 5))
    y = (rng.random(z.shape) < sigmoid(z / 2)).astype(int)
    y[:, 4] = 0  # a label without positives still gets its panel
    names = ["joy", "anger", "fear", "love", "grief"]
    paths = [
        plot_overall_reliability(
            {"validation": (y, sigmoid(z), sigmoid(z / 2)), "test": (y[:100], sigmoid(z[:100]), sigmoid(z[:100] / 2))},
            tmp_path / "overall.png",
        ),
        plot_class_reliability(y, sigmoid(z), sigmoid(z / 2), names, tmp_path / "sub" / "grid.png", columns=3),
        plot_class_ece(names, [0.2, 0.1, 0.3, 0.05, 0.0], [0.02, 0.01, 0.03, 0.01, 0.0], tmp_path / "ece.png"),
    ]
    sizes = [Image.open(path).size for path in paths]
    assert all(width >= 600 and height >= 300 for width, height in sizes), sizes
    # Two rows of three panels for five labels; two splits of two panels each.
    assert sizes[1][1] > 500 and sizes[0][1] > 1000
