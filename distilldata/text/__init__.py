"""Pure text tools with no pipeline knowledge: sentence spans, answer-span labels, MinHash, exact
hashing, the Harmony chat format. Imports only `distilldata.core`."""
