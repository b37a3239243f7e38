/**
 * Word lists for judging stories written for young children. Entries are lemmas (base forms as
 * wink-nlp's lemmatiser gives them) with a weight: 1 for words no bedtime story needs, 0.5 for
 * words that are fine once but frightening or unkind when they pile up.
 */

/** Violence, death and fear. */
export const frighteningWords: ReadonlyMap<string, number> = new Map([
  ...weighted(1, [
    'kill', 'murder', 'blood', 'bloody', 'dead', 'death', 'die', 'corpse', 'gun', 'knife',
    'sword', 'weapon', 'stab', 'shoot', 'monster', 'ghost', 'demon', 'zombie', 'skeleton',
    'terrify', 'terrified', 'terror', 'horror', 'horrible', 'evil', 'wicked', 'torture',
    'nightmare', 'poison', 'grave', 'bomb', 'war', 'strangle', 'drown', 'slaughter',
  ]),
  ...weighted(0.5, [
    'scary', 'scared', 'scare', 'afraid', 'fear', 'frighten', 'frightened', 'hurt', 'pain',
    'scream', 'shriek', 'cry', 'sob', 'fight', 'hit', 'punch', 'kick', 'bite', 'attack',
    'danger', 'dangerous', 'dark', 'lost', 'alone', 'trap', 'steal', 'fire', 'burn', 'storm',
    'angry', 'witch', 'wolf', 'sick', 'bleed', 'wound', 'break', 'broken', 'shout',
  ]),
]);

/** Kind acts and warm feelings between characters. */
export const kindWords: ReadonlyMap<string, number> = new Map([
  ...weighted(1, [
    'kind', 'kindness', 'help', 'helpful', 'share', 'friend', 'friendly', 'hug', 'gentle',
    'care', 'caring', 'thank', 'forgive', 'sorry', 'together', 'love', 'comfort', 'generous',
    'polite', 'please', 'welcome', 'smile', 'gift', 'include', 'protect', 'cheer',
  ]),
  ...weighted(0.5, ['happy', 'nice', 'play', 'laugh', 'warm', 'safe', 'proud', 'glad']),
]);

/** Unkind acts between characters. */
export const unkindWords: ReadonlyMap<string, number> = new Map([
  ...weighted(1, [
    'mean', 'rude', 'hate', 'bully', 'tease', 'mock', 'cruel', 'selfish', 'greedy', 'insult',
    'push', 'shove', 'steal', 'yell', 'ignore', 'lie', 'cheat', 'stupid', 'ugly', 'dumb',
  ]),
  ...weighted(0.5, ['hit', 'kick', 'grab', 'snatch', 'angry', 'shout', 'fight']),
]);

function weighted(weight: number, words: string[]): [string, number][] {
  return words.map((word) => [word, weight]);
}
