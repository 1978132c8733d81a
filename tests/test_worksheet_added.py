"""The questions issue 13 added from the original course worksheet (ids after the existing ones):
each key that follows from the code is checked against the code here (the numeric ones in
test_worksheet_key.py), and no question gives its answer away in the handout."""
from __future__ import annotations

import inspect
import re

import pytest
import torch

from autograder import worksheet as ws
from tests.data_fixtures import make_cfg, make_cifar10, make_h5, skip_md5
from tests.worksheet_fixtures import blank_text, key, staff_text  # noqa: F401 (fixtures)

if not ws.STAFF_RUBRIC.is_file():  # a student handout: the key is staff-only
    pytest.skip("the worksheet key (autograder/staff/worksheet.yaml) is staff-only", allow_module_level=True)

ADDED = ("q1.9", "q2.9", "q2.10", "q2.11", "q2.12", "q2.13", "q2.14", "q2.15", "q2.16", "q2.17", "q2.18",
         "q3.10", "q3.11", "q4.4", "q6.10", "q6.11", "q6.12", "q7.7", "q11.1")


def _reference(key, qid: str) -> str:
    return key[qid].reference


def test_the_added_questions_are_in_the_key_and_worth_what_the_rubric_says(key):
    assert set(ADDED) <= set(key)
    assert {q: key[q].points for q in ("q6.12", "q7.7")} == {"q6.12": 0, "q7.7": 0}  # optional parts: no points
    assert key["q11.1"].kind == "short" and key["q2.17"].expected == "c"


@pytest.mark.parametrize("qid", [q for q in ADDED if q not in ("q6.11", "q6.12", "q7.7", "q2.17")])
def test_the_question_text_alone_earns_nothing(key, blank_text, qid):
    """Copying the question (and its options) into the answer earns no points: nothing is given away."""
    start = blank_text.index(f"<!-- answer {qid} -->")
    heading = blank_text.rindex("### ", 0, start)
    question = blank_text[heading:start]
    grade = ws.grade_answer(key[qid], ws.Answer(qid, question, "markers"))
    assert grade.score == 0, (qid, grade.visible)
    assert _reference(key, qid).splitlines()[0] not in question


def test_q1_9_the_training_loop_is_in_main(key):
    import main

    assert "train_one_epoch" in _reference(key, "q1.9") and "main.py" in _reference(key, "q1.9")
    assert "train_one_epoch(" in inspect.getsource(main.fit) and "fit(" in inspect.getsource(main.main)


def test_q2_9_build_loader_gives_three_loaders_by_dataset_name(key):
    from data import build

    fields = set(inspect.signature(build.DataBundle).parameters)
    assert {"train", "val", "test"} <= fields
    src = inspect.getsource(build.build_loader)
    assert re.search(r"build_dataset\(cfg, split\b.*\) for split in SPLITS", src) and build.SPLITS == ("train", "val", "test")
    assert "DATA.DATASET" in _reference(key, "q2.9") and "DATA.DATASET" in inspect.getsource(build.build_dataset)


def test_q2_10_and_q2_11_cifar10_comes_from_torchvision_under_data_root(tmp_path, monkeypatch, key):
    from data import datasets
    from data.base import DatasetNotFoundError

    skip_md5(monkeypatch)
    with pytest.raises(DatasetNotFoundError, match="DATA.DOWNLOAD True"):
        datasets.cifar10(make_cfg(DATA__ROOT=str(tmp_path / "none")), "train")
    make_cifar10(str(tmp_path), per_batch=6, test=8)
    cfg = make_cfg(DATA__ROOT=str(tmp_path))
    sizes = {s: len(datasets.cifar10(cfg, s).data) for s in ("train", "val", "test")}
    assert sizes["train"] + sizes["val"] == 5 * 6 and sizes["test"] == 8  # val: a holdout of the training batches
    assert sizes["val"] > 0
    for word in ("CIFAR10", "DATA.ROOT", "DATA.DOWNLOAD"):
        assert word in _reference(key, "q2.10")
    assert "holdout" in _reference(key, "q2.11") and "DATA.VAL_SIZE" in _reference(key, "q2.11")


def test_q2_12_build_transform_augments_only_for_train(key):
    from torchvision.transforms import v2

    from data.transforms import build_transform

    cfg = make_cfg(AUG__HFLIP=0.5)
    random = (v2.RandomHorizontalFlip, v2.RandomResizedCrop, v2.RandomCrop, v2.ColorJitter)
    train = build_transform(cfg, True, (0.5,) * 3, (0.5,) * 3).transforms
    evaluation = build_transform(cfg, False, (0.5,) * 3, (0.5,) * 3).transforms
    assert any(isinstance(t, random) for t in train) and not any(isinstance(t, random) for t in evaluation)
    assert "`build_transform`" in _reference(key, "q2.12")


def test_q2_13_an_item_is_an_image_label_pair(key):
    from data.base import TensorImageDataset

    ds = TensorImageDataset(torch.zeros(3, 3, 4, 4, dtype=torch.uint8), torch.tensor([2, 0, 1]))
    image, label = ds[1]
    assert len(ds) == 3 and tuple(image.shape) == (3, 4, 4) and int(label) == 0
    assert "(image, label)" in _reference(key, "q2.13")


def test_q2_14_the_config_keys_exist(key):
    from config import get_defaults

    cfg = get_defaults()
    for name in re.findall(r"`(DATA\.[A-Z_]+)`", _reference(key, "q2.14")):
        assert name.split(".")[1] in cfg.DATA, name
    assert "DATA.CLASS_NAMES" in _reference(key, "q2.14")


def test_q2_17_and_q2_18_medium_imagenet_splits_labels_and_statistics(tmp_path, key):
    from timm.data import IMAGENET_DEFAULT_MEAN

    from data import build, datasets
    from data.base import SPLITS
    from data.medium_imagenet import medium_imagenet

    path = make_h5(str(tmp_path / "medium.h5"), labels_test=False)
    cfg = make_cfg(DATA__ROOT=path)
    splits = {s: medium_imagenet(cfg, s) for s in SPLITS}
    assert SPLITS == ("train", "val", "test")
    assert all(int(splits["test"].data[i][1]) == -1 for i in range(len(splits["test"].data)))  # (c): withheld
    assert int(splits["train"].data[0][1]) >= 0
    assert tuple(splits["train"].mean) == tuple(IMAGENET_DEFAULT_MEAN) != tuple(datasets.CIFAR10_MEAN)
    assert "build_transform(cfg, split ==" in inspect.getsource(build.build_dataset)  # every dataset, one transform
    assert "IMAGENET_DEFAULT_MEAN" in _reference(key, "q2.18")


def test_q3_10_lenet_is_given_and_the_others_are_yours(key):
    from autograder.release import editable_files

    editable = set(editable_files())
    assert {"models/alexnet.py", "models/resnet.py", "models/vit.py"} <= editable
    assert "models/lenet.py" not in editable
    assert "LeNet" in _reference(key, "q3.10")


def test_q4_4_validate_and_evaluate_share_predict(key):
    import main

    assert "predict(" in inspect.getsource(main.validate) and "predict(" in inspect.getsource(main.evaluate)
    assert "accuracy_metrics" in inspect.getsource(main.validate)
    assert "submission.csv" in _reference(key, "q4.4") and "-1" in _reference(key, "q4.4")


def test_q6_10_the_run_log_calls_wandb_log(key):
    from engine import run_log

    assert "wandb.log(" in inspect.getsource(run_log.RunRecorder.log_epoch)
    assert "_init_wandb" in dir(run_log) and "RunRecorder.log_epoch" in _reference(key, "q6.10")


# The original course worksheet's student (reference 004) answered these questions; a fair TA's verdicts.
ORIGINAL = {
    "q1.9": ("The training loop is in main.py.", 1),
    "q2.9": ("Based on what the dataset defined in config is, build_loader will first get the training, validation, "
             "and test splits from the dataset. Then it will create 3 DataLoaders using the training, validation, "
             "and test splits.", 2),
    "q2.13": ("__getitem__ returns the item at index \"index\" of the dataset along with its corresponding label. "
              "__len__ returns the total number of sample points in the dataset.", 2),
    "q3.10": ("LeNet and ResNet", 1),  # ResNet's block is the student's to write here
    "q4.4": ("validate computes the outputs of the model on the validation set then calculates the accuracy of the "
             "model by comparing the model's predictions with the true labels of the validation set. evaluate() "
             "simply computes the outputs of the model given a dataset without comparing the model's predictions "
             "with anything.", 1),  # does not say why the test split has no accuracy
    "q11.1": ("`https://github.com/deenasun/vision-zoo`", 1),
}


@pytest.mark.parametrize("qid", sorted(ORIGINAL))
def test_the_original_students_answers(key, qid):
    text, score = ORIGINAL[qid]
    grade = ws.grade_answer(key[qid], ws.Answer(qid, text, "markers"))
    assert grade.score == score, (qid, grade.visible, grade.key)
