"""Online DPO ([preference] online): rounds in which the current student answers each prompt k times,
the referee scores every sample against the teacher's answer (both orders, the discrimination stage's
routine and parser, so each verdict is a cached, keyed request), and the best and the worst sample of a
prompt become a pair (chosen, rejected) where their score gap is at least online_margin. A DPO step on
those pairs follows, and its model is the next round's policy.

The prompts are those of the last discrimination stage before the iteration (its hard instructions, or
its whole Cache Pool). Every sample (with its own seed) and every verdict is a row in the store
(store/online_samples.py), so a killed round resumes without generating or asking anything again; a
finished round is read back from its detail file.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from lion_cli.core.judging import RefereeAttempt, ask_referee, referee_format
from lion_cli.core.seed_records import user_text
from lion_cli.core.types import Label, Order, Pool, Role, Stage, shown_pair, teacher_student
from lion_cli.pipeline.context import LoopContext, online_round_dir
from lion_cli.pipeline.discrimination import row_seed
from lion_cli.pipeline.dpo_run import DETAIL_NAME, finished_detail, tune_on_pairs
from lion_cli.pipeline.item_failures import Item, or_failed, report_failures
from lion_cli.pipeline.job_thread import relay, run_recorded
from lion_cli.pipeline.progress import StepProgress, advance_each, log, role_activity
from lion_cli.store.failures import failed_keys, online_referee_item
from lion_cli.store.jobs import start_job
from lion_cli.store.loop_rows import answers, label_ids
from lion_cli.store.online_samples import (
    OnlineSample,
    SampleVerdict,
    round_samples,
    round_verdicts,
    save_sample_verdict,
    save_samples,
)
from lion_cli.store.pools import get_instructions, pool_ids
from lion_cli.store.progress import student_path


def sample_seed(rng_seed: int, round_no: int, instruction_id: int, sample: int) -> int:
    """Sample `sample` of a prompt in a round: its own seed, the same on every resume."""
    return (row_seed(rng_seed, instruction_id) * 31 + round_no * 1_009 + sample * 7) % (2**31 - 1)


def online_prompt_ids(ctx: LoopContext, iteration: int) -> list[int]:
    """The round's prompts: the last discrimination stage's hard instructions (or Cache Pool)."""
    last = iteration - 1
    if last < 0:
        return []
    if ctx.settings.preference.online_prompts == "hard":
        return label_ids(ctx.store, last, Label.HARD)
    return pool_ids(ctx.store, last, Pool.CACHE)


async def sample_answers(ctx: LoopContext, iteration: int, round_no: int, ids: list[int], work: Path) -> int:
    """The k samples per prompt that the store does not hold yet, in one student generation job."""
    from lion_cli.pipeline.student_specs import gen_spec, launch_config
    from lion_cli.student.jobs import generate

    k, have = ctx.settings.preference.online_samples, round_samples(ctx.store, iteration, round_no)
    missing = [(ins, s) for ins in get_instructions(ctx.store, ids) for s in range(k) if (ins.id, s) not in have]
    if not missing:
        return 0
    model = str(student_path(ctx.store, iteration))
    seeds = {(ins.id, s): sample_seed(ctx.settings.loop.rng_seed, round_no, ins.id, s) for ins, s in missing}
    work.mkdir(parents=True, exist_ok=True)
    inp = work / "samples-input.jsonl"
    inp.write_text("".join(json.dumps({"id": f"{ins.id}:{s}", "instruction": ins.text, "input": ins.input,
                                       "seed": seeds[ins.id, s]}) + "\n" for ins, s in missing), encoding="utf-8")
    spec = gen_spec(ctx.settings, model_path=Path(model), input_path=inp, output_path=work / "samples-output.jsonl")
    spec.temperature = ctx.settings.preference.online_temperature
    bar = StepProgress(ctx.store, iteration, Stage.IMITATION, f"online {round_no} samples", len(missing))
    job = start_job(ctx.store, iteration, "generate", spec.to_json(), str(work), len(missing))
    launch = launch_config(ctx.settings, for_generation=True)
    on_progress = relay(lambda done, total: bar.advance(done - bar.done))
    rows = await run_recorded(ctx.store, job, lambda cancel: generate(spec, launch, on_progress=on_progress,
                                                                      cancel=cancel), bar.close)
    made = []
    for ins, s in missing:
        r = rows.get(f"{ins.id}:{s}")  # type: ignore[call-overload]
        if r is None:
            raise RuntimeError(f"student generation returned no sample {s} for instruction {ins.id}")
        made.append(OnlineSample(ins.id, s, seeds[ins.id, s], r["text"], r.get("finish_reason", "")))
    save_samples(ctx.store, iteration, round_no, model, made)
    return len(missing)


async def score_samples(ctx: LoopContext, iteration: int, round_no: int) -> int:
    """The referee's verdicts on every sample against the teacher's answer, both orders; an unreadable
    reply is asked again with the next sample index (`referee_retries` times), then left unscored. A
    request that fails for good (a prompt over the referee's context ...) marks that sample and order
    failed (item_failures.py) and the round goes on: the sample is unscored, as an unreadable one."""
    samples = round_samples(ctx.store, iteration, round_no)
    ids = sorted({iid for iid, _ in samples})
    teacher = answers(ctx.store, ids, Role.TEACHER, ctx.keys.teacher_model, ctx.keys.teacher_hash)
    attempts_allowed = ctx.settings.loop.referee_retries + 1
    seen: dict[tuple[int, int, Order], list[bool]] = {}
    for v in round_verdicts(ctx.store, iteration, round_no):
        seen.setdefault((v.instruction_id, v.sample, v.order), []).append(v.parse_error is None)
    failed = failed_keys(ctx.store, Role.REFEREE.value)
    todo = [(iid, s, o) for iid, s in samples if iid in teacher for o in Order
            if not any(seen.get((iid, s, o), [])) and len(seen.get((iid, s, o), [])) < attempts_allowed
            and online_referee_item(iteration, round_no, iid, s, o) not in failed]
    if not todo:
        return 0
    texts = {i.id: i for i in get_instructions(ctx.store, ids)}
    model, reply_format = ctx.settings.referee.model, await referee_format(ctx.engine)

    async def judge(item: tuple[int, int, Order]) -> None:
        iid, s, order = item

        def record(a: RefereeAttempt) -> None:
            t, x = teacher_student(order, *a.scores) if a.scores is not None else (None, None)
            verdict = SampleVerdict(iid, s, order, a.attempt, x, a.parse_error)
            save_sample_verdict(ctx.store, iteration, round_no, verdict, model, a.raw, t)

        messages = ctx.prompts.referee(texts[iid].text, texts[iid].input,
                                       *shown_pair(order, teacher[iid], samples[iid, s]),
                                       structured=reply_format is not None)
        key = Item(Role.REFEREE.value, online_referee_item(iteration, round_no, iid, s, order), iid)
        await or_failed(ctx, iteration, Stage.IMITATION, key, lambda: ask_referee(
            ctx.engine, messages, attempts=attempts_allowed, first_attempt=len(seen.get(item, [])), record=record,
            response_format=reply_format))

    bar = StepProgress(ctx.store, iteration, Stage.IMITATION, f"online {round_no} referee", len(todo),
                       spent=ctx.spent, api=lambda: role_activity(ctx, "referee"))
    await advance_each(todo, judge, ctx.settings.referee.max_concurrency, bar)
    report_failures(ctx, iteration, Stage.IMITATION, Role.REFEREE.value)
    return len(todo)


def sample_scores(verdicts: list[SampleVerdict]) -> dict[tuple[int, int], float]:
    """(instruction, sample) → the sample's score: the mean over both orders of each order's first
    readable verdict. A sample without a readable verdict in each order has none (it never pairs): one
    order alone carries the referee's position bias, as discrimination's rule says."""
    first: dict[tuple[int, int, Order], float] = {}
    for v in sorted(verdicts, key=lambda v: v.attempt):
        if v.sample_score is not None:
            first.setdefault((v.instruction_id, v.sample, v.order), v.sample_score)
    by_sample: dict[tuple[int, int], list[float]] = {}
    for (iid, s, _), score in sorted(first.items()):
        by_sample.setdefault((iid, s), []).append(score)
    return {key: statistics.fmean(scores) for key, scores in by_sample.items() if len(scores) == len(Order)}


def best_worst(scores: dict[tuple[int, int], float], margin: float) -> list[tuple[int, int, int, float]]:
    """(instruction, best sample, worst sample, gap) per prompt with two scored samples or more and a
    gap ≥ margin. Ties go to the lower sample index for the best and the higher for the worst."""
    per_prompt: dict[int, list[tuple[float, int]]] = {}
    for (iid, s), score in scores.items():
        per_prompt.setdefault(iid, []).append((score, s))
    out = []
    for iid, ranked in sorted(per_prompt.items()):
        if len(ranked) < 2:
            continue
        best = max(ranked, key=lambda x: (x[0], -x[1]))
        worst = min(ranked, key=lambda x: (x[0], -x[1]))
        if best[0] - worst[0] >= margin:
            out.append((iid, best[1], worst[1], best[0] - worst[0]))
    return out


def round_pairs(ctx: LoopContext, iteration: int, round_no: int, margin: float) -> list[dict[str, Any]]:
    """The round's pairs in TRL's layout, from the stored samples and verdicts."""
    samples = round_samples(ctx.store, iteration, round_no)
    chosen = best_worst(sample_scores(round_verdicts(ctx.store, iteration, round_no)), margin)
    by_id = {i.id: i for i in get_instructions(ctx.store, [iid for iid, *_ in chosen])}
    return [{"prompt": user_text(by_id[iid].text, by_id[iid].input), "chosen": samples[iid, best],
             "rejected": samples[iid, worst], "instruction": by_id[iid].text, "input": by_id[iid].input,
             "instruction_id": iid, "chosen_sample": best, "rejected_sample": worst, "gap": gap}
            for iid, best, worst, gap in chosen]


async def online_round(ctx: LoopContext, iteration: int, round_no: int) -> dict[str, Any]:
    out_dir = online_round_dir(ctx.students_dir, iteration, round_no)
    done = finished_detail(ctx, iteration, out_dir)
    if done is not None:
        return done
    margin = ctx.settings.preference.online_pair_margin(ctx.settings.loop.tau)
    ids = online_prompt_ids(ctx, iteration)
    if not ids:
        return {"round": round_no, "pairs": 0, "margin": margin,
                "skipped": "no prompts: no earlier discrimination stage with " + ctx.settings.preference.online_prompts
                + " instructions"}
    sampled = await sample_answers(ctx, iteration, round_no, ids, out_dir)
    judged = await score_samples(ctx, iteration, round_no)
    pairs = round_pairs(ctx, iteration, round_no, margin)
    head = {"round": round_no, "prompts": len(ids), "sampled": sampled, "referee_asked": judged, "margin": margin}
    if not pairs:
        return {**head, "pairs": 0, "skipped": "no prompt's best and worst samples are that far apart"}
    detail = {**head, **await tune_on_pairs(ctx, iteration, pairs, out_dir, f"online dpo round {round_no}",
                                            f"online round {round_no}, best vs worst sample, gap ≥ {margin}")}
    (out_dir / DETAIL_NAME).write_text(json.dumps(detail) + "\n", encoding="utf-8")
    return detail


async def run_online_rounds(ctx: LoopContext, iteration: int) -> list[dict[str, Any]]:
    """Every online round of the iteration's preference stage, each from the previous one's model."""
    if student_path(ctx.store, iteration) is None:
        raise RuntimeError(f"iteration {iteration}: no student to tune online")
    rounds = []
    for round_no in range(1, ctx.settings.preference.online_rounds + 1):
        rounds.append(await online_round(ctx, iteration, round_no))
        log(f"it{iteration} preference · online round {round_no}: {rounds[-1]['pairs']} pairs")
    return rounds
