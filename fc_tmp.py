from tests.test_offline_unanswerable import false_confident
from tests.test_kb_context import SETS
for n in SETS: 
    w=false_confident(n); print(n, len(w), w)
