"""hybrid-bench: MTEB tasks, a hybrid-batch trainer and leaderboards for multilingual retrieval.

Reference: Elmahdy, Lin, Ahmad, "Synergistic Approach for Simultaneous Optimization of Monolingual,
Cross-lingual, and Multilingual Information Retrieval", arXiv 2408.10536.

Modules, in the direction data flows:
``data`` (LAReQA, MIRACL, mirrors) → ``tasks`` (MTEB tasks, metrics) → ``training`` (sampler, loss, train)
→ ``models`` (me5-small, registry) → ``leaderboard`` (tables, CIs, plots) → ``cli``.
"""

__version__ = "0.1.0"
