"""``ndgrad.datasets``: data sets for the d2l programs (loaders live in their own modules;
the text pipeline of chapters 8-9 is :mod:`ndgrad.datasets.text`)."""

from __future__ import annotations

from ndgrad.datasets.fashion_mnist import FashionMNIST, load_fashion_mnist, read_idx
from ndgrad.datasets.sklearn_sets import TabularDataset, load_sklearn
from ndgrad.datasets.synthetic import synthetic_data
from ndgrad.datasets.text import (
    SeqDataLoader,
    Vocab,
    build_array_nmt,
    count_corpus,
    load_corpus_time_machine,
    load_data_nmt,
    load_data_time_machine,
    preprocess_nmt,
    read_data_nmt,
    read_time_machine,
    seq_data_iter_random,
    seq_data_iter_sequential,
    tokenize,
    tokenize_nmt,
    truncate_pad,
)

__all__ = [
    "synthetic_data", "FashionMNIST", "load_fashion_mnist", "read_idx", "TabularDataset",
    "load_sklearn", "SeqDataLoader", "Vocab", "build_array_nmt", "count_corpus",
    "load_corpus_time_machine", "load_data_nmt", "load_data_time_machine", "preprocess_nmt",
    "read_data_nmt", "read_time_machine", "seq_data_iter_random", "seq_data_iter_sequential",
    "tokenize", "tokenize_nmt", "truncate_pad",
]  # fmt: skip
