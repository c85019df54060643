"""Profile a small program with cProfile and read the report with pstats."""

# --8<-- [start:program]
# --8<-- [start:distinct]
import random
import string


def make_text(words, seed=1):
    """A reproducible text: `words` words drawn from a vocabulary of 500."""
    rng = random.Random(seed)

    def word():
        return "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 8)))

    vocabulary = [word() for _ in range(500)]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


def distinct_in_order(text):
    seen = []  # a list: every `in` below compares with each word seen so far
    for word in text.split():
        if word not in seen:
            seen.append(word)
    return seen
# --8<-- [end:distinct]


def normalize(word):
    return word.strip(".,;:!?").lower()


def count_words(text):
    counts = {}
    for word in text.split():
        word = normalize(word)
        counts[word] = counts.get(word, 0) + 1
    return counts


def report(text):
    counts = count_words(text)
    distinct = distinct_in_order(text)
    top = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:3]
    return top, len(distinct)
# --8<-- [end:program]


# --8<-- [start:profile]
import cProfile
import pstats

text = make_text(20_000)
with cProfile.Profile() as profiler:
    top, distinct = report(text)
print("most common:", top, "distinct words:", distinct)

stats = pstats.Stats(profiler)
stats.strip_dirs()  # file names without their folders
stats.sort_stats("cumulative")
stats.print_stats(8)  # the 8 first lines of the sorted report

# stats.stats maps (file, line, function) to
# (primitive calls, calls, tottime, cumtime, callers)
where, figures = max(stats.stats.items(), key=lambda item: item[1][2])
share = figures[2] / stats.total_tt
print(f"most time spent in the body of {where[2]}(): {share:.0%} of the total")
# --8<-- [end:profile]
