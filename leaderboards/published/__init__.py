"""Published results tables of the MSA and SPColor papers, transcribed cell by cell.

``tables.json`` is the index (one entry per table: citation, caption, dataset, level, protocol, metric
directions and the oddities found while transcribing); each table's cells are in a long-format CSV
(``method,metric,value,plus_minus,bold_in_paper,source_line,note``), where ``source_line`` is the
1-based line of the row in the paper's text file. Read them with :mod:`leaderboards.published_tables`.
"""
