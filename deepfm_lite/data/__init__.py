"""The data pipeline: from rows to the ``ids`` / ``values`` tensors the models read.

=================  ==========================================================================
``schema``         fields, vocabularies, out-of-vocabulary and missing ids, numeric scaling
``encoded``        :class:`EncodedData` (the tensors) and the checks they pass where they enter
``splits``         a frame cut into train / validation / test and encoded (:class:`SplitData`)
``generated``      the course's generated data sets by name (:func:`load_dataset`)
``appstore``       the app-store generator, with the true click probability
``criteo_like``    the Criteo-shaped generator, with the true click probability
``criteo``         the Criteo columns, the Criteo_x4 recipe and the ``train.txt`` writer
``criteo_reader``  reading Kaggle's ``train.txt`` / ``test.txt`` and CSV files
``prepared``       a file prepared once into memory-mapped arrays (:func:`prepare_file`)
``integrity``      the checks a prepared folder passes before it is trusted (checksums too)
``chunks``         reading a file in chunks, appending ``.npy`` arrays, progress bars
``sources``        input files: regular files only, lines of bounded length, gzip errors named
``passes``         the two passes of :func:`prepare_file` (count, then encode)
``atomic``         files that appear whole or not at all, even on SIGTERM; temporary folders
=================  ==========================================================================

Nothing here imports a model or training: the data pipeline stands on its own.
"""

from .appstore import make_appstore
from .criteo import (
    CRITEO_CATEGORICAL,
    CRITEO_COLUMNS,
    CRITEO_INTEGER,
    CRITEO_LABEL,
    CRITEO_X4_MIN_COUNT,
    apply_criteo_recipe,
    criteo_integer_to_category,
    write_criteo_tsv,
)
from .criteo_like import criteo_like_min_count, encode_criteo_splits, make_criteo_like
from .criteo_reader import read_criteo
from .encoded import TRUE_PROBABILITY, EncodedData, check_ids, check_values, split_frame
from .generated import DATASETS, estimate_generated_bytes, load_dataset
from .prepared import PreparedArrays, load_prepared, prepare_file
from .schema import FieldSpec, Schema, hash_category_ids
from .splits import (
    GROUND_TRUTH_COLUMNS,
    GroundTruthWarning,
    SplitData,
    check_both_classes,
    encode_splits,
    infer_fields,
)

__all__ = ["CRITEO_CATEGORICAL", "CRITEO_COLUMNS", "CRITEO_INTEGER", "CRITEO_LABEL",
           "CRITEO_X4_MIN_COUNT", "DATASETS", "GROUND_TRUTH_COLUMNS", "TRUE_PROBABILITY",
           "EncodedData", "FieldSpec", "GroundTruthWarning", "PreparedArrays", "Schema",
           "SplitData", "apply_criteo_recipe", "check_both_classes", "check_ids", "check_values",
           "criteo_integer_to_category", "criteo_like_min_count", "encode_criteo_splits",
           "encode_splits", "estimate_generated_bytes", "hash_category_ids", "infer_fields",
           "load_dataset", "load_prepared", "make_appstore", "make_criteo_like", "prepare_file",
           "read_criteo", "split_frame", "write_criteo_tsv"]
