"""Texts every scorer must survive (a uniquely named module: `conftest` is ambiguous when several
test folders are collected together)."""

BAD_INPUTS = {
    "empty": "",
    "one_word": "Dragon",
    "non_english": "Der kleine Drache wohnte in einer Höhle. Er konnte kein Feuer speien. 小さな竜は火を吹けなかった。",
    "punctuation": "... !!! ??? ,,, ;;; --- ...",
    "html_control": "<p>Once <b>upon</b> a time\x00\x07 there was a <script>alert(1)</script> cat &amp; a dog.</p>\x1b[31m",
    "long": " ".join(["The little fox ran to the river and looked at the moon."] * 1700),  # ~20,000 words
}
