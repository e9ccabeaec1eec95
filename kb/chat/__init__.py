"""The chat app: a thin Gradio adapter over :class:`kb.service.KnowledgeBase`.

``render`` turns answers into chat messages and a sources panel, ``uploads`` checks and
stores uploaded files, ``feedback`` appends ratings, ``auth`` guards the Documents tab,
``chat_tab`` / ``documents_tab`` wire the two tabs and ``app`` builds and launches it all.
Gradio is imported only inside the functions that build the UI.
"""
