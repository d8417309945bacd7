"""The conversation: the LangGraph supervisor graph, its state, context extraction, replies, model and memory."""
