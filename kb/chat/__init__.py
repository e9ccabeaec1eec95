"""The chat app: a thin Gradio adapter over :class:`kb.service.KnowledgeBase`.

``render`` turns answers into chat messages and a sources panel, ``conversation`` is one
user's chat state and what can be done with it, ``uploads`` checks and ingests uploaded files,
``auth`` and ``login`` guard the admin tabs, ``chat_tab`` / ``documents_tab`` / ``eval_tab`` each
lay out a tab and hold its handlers, and ``app`` builds and launches it all.
The tab modules import gradio at the top and only :func:`kb.chat.app.create_app` imports them;
elsewhere gradio is imported inside the functions that need it. So importing ``kb.chat.app`` does
not load gradio, and :func:`kb.chat.app.launch` applies the offline settings (:mod:`kb.offline`) first.
"""
