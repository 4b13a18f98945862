"""Dolly v2's prompt, spelled out from upstream for every script in tools/ (never from our Swift code).

Copied from databrickslabs/dolly, training/consts.py (the same text is in instruct_pipeline.py of every
databricks/dolly-v2-* model repository):

    INTRO_BLURB = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
    INSTRUCTION_KEY = "### Instruction:"
    INPUT_KEY = "Input:"
    RESPONSE_KEY = "### Response:"
    END_KEY = "### End"
    RESPONSE_KEY_NL = f"{RESPONSE_KEY}\\n"

    PROMPT_NO_INPUT_FORMAT = \"\"\"{intro}

    {instruction_key}
    {instruction}

    {response_key}
    {response}

    {end_key}\"\"\"

    PROMPT_WITH_INPUT_FORMAT = \"\"\"{intro}

    {instruction_key}
    {instruction}

    {input_key}
    {input}

    {response_key}
    {response}

    {end_key}\"\"\"

    PROMPT_FOR_GENERATION_FORMAT = \"\"\"{intro}

    {instruction_key}
    {instruction}

    {response_key}
    \"\"\"

Context at generation time is passed the way the dolly-v2 model card does it (LangChain PromptTemplate
"{instruction}\\n\\nInput:\\n{context}" as the instruction), which yields PROMPT_WITH_INPUT_FORMAT's text up
to and including the response key.
"""

INTRO_BLURB = "Below is an instruction that describes a task. Write a response that appropriately completes the request."
INSTRUCTION_KEY = "### Instruction:"
INPUT_KEY = "Input:"
RESPONSE_KEY = "### Response:"
END_KEY = "### End"
RESPONSE_KEY_NL = f"{RESPONSE_KEY}\n"

PROMPT_FOR_GENERATION_FORMAT = """{intro}

{instruction_key}
{instruction}

{response_key}
""".format(intro=INTRO_BLURB, instruction_key=INSTRUCTION_KEY, instruction="{instruction}", response_key=RESPONSE_KEY)

# The model card's context template (databricks/dolly-v2-3b README.md, "LangChain Usage").
MODEL_CARD_CONTEXT_TEMPLATE = "{instruction}\n\nInput:\n{context}"


def generation_prompt(instruction, context=None):
    """The text Dolly's pipeline feeds the model for an instruction, with the model card's optional context."""
    if context is not None:
        instruction = MODEL_CARD_CONTEXT_TEMPLATE.format(instruction=instruction, context=context)
    return PROMPT_FOR_GENERATION_FORMAT.format(instruction=instruction)


def training_completion(response):
    """What follows the prompt in training (PROMPT_NO_INPUT_FORMAT / PROMPT_WITH_INPUT_FORMAT's tail)."""
    return f"{response}\n\n{END_KEY}"
