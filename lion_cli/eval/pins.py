"""Where lion's benchmark files come from, pinned: upstream repository, commit, path and SHA-256.

Each hash is that of the file byte-identical to upstream at the pinned commit.
A downloaded or user-supplied file whose hash differs is refused, so numbers stay comparable.
"""

from __future__ import annotations

# source → (GitHub repository, pinned commit)
SOURCES: dict[str, tuple[str, str]] = {
    "bbh": ("suzgunmirac/BIG-Bench-Hard", "9ee07bd481feebf959a6b59d61ea57bdcf30964d"),
    "agieval": ("ruixiangcui/AGIEval", "5c77d073fda993f1652eaae3cf5d04cc5fd21d40"),
    "vicuna": ("lm-sys/FastChat", "69d085eadab8e9fcf831a97e17e132658c3d2272"),
}

# file under the data folder → (source, path in the upstream repository, sha256)
PINS: dict[str, tuple[str, str, str]] = {
    "agieval/aqua-rat.jsonl": ("agieval", "data/v1/aqua-rat.jsonl",
                              "cff42e946e6082dacb27285dae19cb4be98408ab760fe43c6c462e543be50572"),
    "agieval/logiqa-en.jsonl": ("agieval", "data/v1/logiqa-en.jsonl",
                               "63d0e8efaca1944e7eac5037903650f92ca9c036155a66b4e95bf2aa06da1702"),
    "agieval/lsat-ar.jsonl": ("agieval", "data/v1/lsat-ar.jsonl",
                             "3b3e3fe09a07c695326adb82f38da0d67d5bbaadab41551f198c3102f1ea9dc8"),
    "agieval/lsat-lr.jsonl": ("agieval", "data/v1/lsat-lr.jsonl",
                             "c6acb4d843db7b515da4d853e52bb8e6e5f776910f2e35a1805634db24bf94ea"),
    "agieval/lsat-rc.jsonl": ("agieval", "data/v1/lsat-rc.jsonl",
                             "0eed491b3099d66b8110d4fabb98ce43285a6ac61ea5643285eec11b8abce202"),
    "agieval/sat-en-without-passage.jsonl": ("agieval", "data/v1/sat-en-without-passage.jsonl",
                                            "77eb57bb6f6f39466d5d169de5253e77755ef521ad6692f582307672affbf593"),
    "agieval/sat-en.jsonl": ("agieval", "data/v1/sat-en.jsonl",
                            "33fe87b32ff16ae7ba52b27bb398190b082253b3617a3eb9737005262ba12dd4"),
    "agieval/sat-math.jsonl": ("agieval", "data/v1/sat-math.jsonl",
                              "9cde4c0522b6196852a5562db6e72bf8817b4802822db0fc10013d1becdab3c3"),
    "bbh/boolean_expressions.json": ("bbh", "bbh/boolean_expressions.json",
                                    "ea6c754ec005e2d3f2d085d349a740f593b5764f32ea4638ffed4cfc0061b12a"),
    "bbh/causal_judgement.json": ("bbh", "bbh/causal_judgement.json",
                                 "6e8bca44dd402008ed41c07a3d0a1d5e7b03db7001a7e002fcdf4c60985ea081"),
    "bbh/date_understanding.json": ("bbh", "bbh/date_understanding.json",
                                   "0148d4ac5fca05b2f82373e5fef7208e15363b9c6079493034d77b3dab496bf5"),
    "bbh/disambiguation_qa.json": ("bbh", "bbh/disambiguation_qa.json",
                                  "cf06df9ebf911b883671cb1b35d3fbd1a1c306b19b9e9a012407e596c85fe8c6"),
    "bbh/dyck_languages.json": ("bbh", "bbh/dyck_languages.json",
                               "3f9badedf15c2be1ce53d94fdf016299bb30ba231ef087ab9f51a7ed6d0bdc25"),
    "bbh/formal_fallacies.json": ("bbh", "bbh/formal_fallacies.json",
                                 "4c1adb664821157faade1d4153685403afcc02648f3c180a608a18f17f589629"),
    "bbh/geometric_shapes.json": ("bbh", "bbh/geometric_shapes.json",
                                 "07be68a124420caa2ebc0b2c858ad79fc55c5c8806170e496e1e17ebfb11f31c"),
    "bbh/hyperbaton.json": ("bbh", "bbh/hyperbaton.json",
                           "b6d7f55c75f5d02f2987a4f3123802dfa093872089a56a334144aae8a7264fdc"),
    "bbh/logical_deduction_five_objects.json": ("bbh", "bbh/logical_deduction_five_objects.json",
                                               "d2df31394b903b7f0e085d42a69572a092987856eac076799017d70ef266fa8f"),
    "bbh/logical_deduction_seven_objects.json": ("bbh", "bbh/logical_deduction_seven_objects.json",
                                                "2896c7e3482eea318dd37bcc370d24ec3cc91e8374c1784287b5dbd38a529e33"),
    "bbh/logical_deduction_three_objects.json": ("bbh", "bbh/logical_deduction_three_objects.json",
                                                "e590fae72e3a6041fbd23bd8ff6b74baf44ca563f6ba40a041c55e7b867c1681"),
    "bbh/movie_recommendation.json": ("bbh", "bbh/movie_recommendation.json",
                                     "a8b53a87ee21a865b7248e694f388a9b8f7cf6b839b11d44796a2dd3fc088983"),
    "bbh/multistep_arithmetic_two.json": ("bbh", "bbh/multistep_arithmetic_two.json",
                                         "c9d5a6433c9b78256422a15c78463949c8bec8d85607aa28b52d7234ad4a8595"),
    "bbh/navigate.json": ("bbh", "bbh/navigate.json",
                         "b7944dfd3c81da5c4815bd75b00d6fa3c64140823498e78ed496f4c3d36f7f0d"),
    "bbh/object_counting.json": ("bbh", "bbh/object_counting.json",
                                "8acef14dbbdd40d2326ef7755750b6b5fe919fef06276af1bab3f1c297f022ff"),
    "bbh/penguins_in_a_table.json": ("bbh", "bbh/penguins_in_a_table.json",
                                    "bb87ee449698eee51215e025a453b1bcb2f5e6589c2063b2c79e68b8f0655228"),
    "bbh/reasoning_about_colored_objects.json": ("bbh", "bbh/reasoning_about_colored_objects.json",
                                                "0a8850cf95166020fce7a78244026ceedd7ea839302471512b4f8744e85a6a49"),
    "bbh/ruin_names.json": ("bbh", "bbh/ruin_names.json",
                           "b6f723aef2bafdd4c7bfc3c7e0329c7e8a8279391a609969c8ed76c9319f5f7f"),
    "bbh/salient_translation_error_detection.json": ("bbh", "bbh/salient_translation_error_detection.json",
                                                    "becf3eb8dd53c821a555ecd5c1334ecd93eb25f980e63be963c518e7138de5da"),
    "bbh/snarks.json": ("bbh", "bbh/snarks.json",
                       "54a0661fe2de06167645a4965e6bcf963c4ba307e76262a7c750998b0e3d0d0e"),
    "bbh/sports_understanding.json": ("bbh", "bbh/sports_understanding.json",
                                     "63ca262858f6176864515cd8cf53cdaa40839ebecc155b726d77930855d167bf"),
    "bbh/temporal_sequences.json": ("bbh", "bbh/temporal_sequences.json",
                                   "92a1189faaa84aacc4c405aaa13f13f48c2992eb884772eedb622505252baef5"),
    "bbh/tracking_shuffled_objects_five_objects.json": ("bbh", "bbh/tracking_shuffled_objects_five_objects.json",
                                                       "2063a46a4fb484236ed4310523606543a3e1dd4a4dc34eda65d407910ece25a5"),
    "bbh/tracking_shuffled_objects_seven_objects.json": ("bbh", "bbh/tracking_shuffled_objects_seven_objects.json",
                                                        "b59fd05b850c37cf57cb514ae1e6975c00b1638ade2291722056b2af3c54084d"),
    "bbh/tracking_shuffled_objects_three_objects.json": ("bbh", "bbh/tracking_shuffled_objects_three_objects.json",
                                                        "546cc7bf10c6a01a6a4c17ae28a4966485f21f29fd5d111f37858ec78e354f6b"),
    "bbh/web_of_lies.json": ("bbh", "bbh/web_of_lies.json",
                            "3e60323f8514a107fdb4edf35f8832a9171c5a09c0eaa47823559de905e8ab8b"),
    "bbh/word_sorting.json": ("bbh", "bbh/word_sorting.json",
                             "2a6132d2c99f00d0d2eb1113ac6b4a918bd969d863c48749210d969713db8d43"),
    "vicuna/answer/answer_gpt35.jsonl": ("vicuna", "fastchat/eval/table/answer/answer_gpt35.jsonl",
                                        "c6545739b0738eba5f9348e77f680031aec076a72ecba71b3014e7b1b0dfe099"),
    "vicuna/question.jsonl": ("vicuna", "fastchat/eval/table/question.jsonl",
                             "590c39157bc561eadd7f03cad4be18c2b597f93029780af65f86718f39eafa87"),
}


def raw_url(source: str, upstream_path: str, base: str = "https://raw.githubusercontent.com") -> str:
    repo, commit = SOURCES[source]
    return f"{base.rstrip('/')}/{repo}/{commit}/{upstream_path}"
