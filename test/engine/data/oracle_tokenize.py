# Oracle for tokenizer.test.ts: token ids from shared/tools/oracle/wordpiece.py (HF BertTokenizer).
# usage: oracle_tokenize.py ORACLE_DIR VOCAB IN OUT [--cased]
#   IN: one JSON string per line; OUT: one line of space-separated ids per input ([CLS] ... [SEP], no truncation)
import json, sys
sys.path.insert(0, sys.argv[1])
from wordpiece import BertTokenizer
tok = BertTokenizer(sys.argv[2], do_lower_case="--cased" not in sys.argv[5:])
with open(sys.argv[3], encoding="utf-8") as f, open(sys.argv[4], "w", encoding="utf-8") as out:
    for line in f:
        out.write(" ".join(map(str, tok.encode(json.loads(line), max_length=None))) + "\n")
