/**
 * Named checks of the embedded judge: each maps (prompt, response) to a score, higher meaning
 * better by one principle. They run on small real NLP models from npm (wink-nlp's English
 * model and sentiment, VADER, the obscenity profanity matcher, text-readability's Flesch
 * score), the word lists of `lexicons.ts`, and optionally a CausalLM's own log-probs.
 */
import { RegExpMatcher, englishDataset, englishRecommendedTransformers } from 'obscenity';
import readability from 'text-readability';
import vader from 'vader-sentiment';
import winkNLP from 'wink-nlp';
import winkModel from 'wink-eng-lite-web-model';

import type { CausalLM } from '../model/types.ts';
import { frighteningWords, kindWords, unkindWords } from './lexicons.ts';

export interface Check {
  readonly name: string;
  readonly description: string;
  /**
   * Typical score gap between two different responses. The embedded judge divides score
   * differences by it, so one temperature means the same for every check.
   */
  readonly scale: number;
  score(prompt: string, response: string): number | Promise<number>;
}

/** Checks that need nothing but text. */
export const textCheckNames = [
  'kindness',
  'hopeful_ending',
  'not_frightening',
  'simple_language',
  'on_topic',
  'no_repetition',
  'not_profane',
  'wink_sentiment',
  'vader_compound',
  'vader_positive',
  'vader_ending',
] as const;

/** Every check name, including those that need a model. */
export const checkNames: readonly string[] = [...textCheckNames, 'fluency'];

export interface CheckLibraryOptions {
  /** Reference model for `fluency` (mean log-prob per response token). */
  model?: CausalLM;
}

/** All checks available with these options, by name. */
export function checkLibrary(options: CheckLibraryOptions = {}): Map<string, Check> {
  const checks: Check[] = [
    {
      name: 'kindness',
      description: 'wink-nlp sentiment plus kind minus unkind words per sqrt(word count)',
      scale: 0.5,
      score: (_prompt, response) => {
        const text = analyse(response);
        const lexical = lexiconHits(text.lemmas, kindWords) - lexiconHits(text.lemmas, unkindWords);
        return text.sentiment + lexical / Math.sqrt(text.lemmas.length + 1);
      },
    },
    {
      name: 'hopeful_ending',
      description: 'wink-nlp sentiment of the last two sentences',
      scale: 0.3,
      score: (_prompt, response) => {
        const { sentenceSentiments } = analyse(response);
        if (sentenceSentiments.length === 0) return -1;
        return mean(sentenceSentiments.slice(-2));
      },
    },
    {
      name: 'not_frightening',
      description: 'minus violence/fear words and profanity per sqrt(word count)',
      scale: 0.3,
      score: (_prompt, response) => {
        const text = analyse(response);
        const hits = lexiconHits(text.lemmas, frighteningWords) + 2 * profanityCount(response);
        return -hits / Math.sqrt(text.lemmas.length + 1);
      },
    },
    {
      name: 'simple_language',
      description: 'Flesch reading ease / 100 (text-readability)',
      scale: 0.2,
      score: (_prompt, response) => {
        if (analyse(response).lemmas.length === 0) return -1;
        return clamp(readability.fleschReadingEase(response) / 100, -1, 1.2);
      },
    },
    {
      name: 'on_topic',
      description: "share of the prompt's content words (lemmas) the response uses",
      scale: 0.2,
      score: (prompt, response) => {
        const wanted = new Set(analyse(prompt).contentLemmas);
        if (wanted.size === 0) return 0;
        const used = new Set(analyse(response).contentLemmas);
        let found = 0;
        for (const lemma of wanted) if (used.has(lemma)) found++;
        return found / wanted.size;
      },
    },
    {
      name: 'no_repetition',
      description: 'distinct word bigrams / all bigrams',
      scale: 0.1,
      score: (_prompt, response) => {
        const words = analyse(response).normals;
        if (words.length < 2) return 0;
        const bigrams = new Set<string>();
        for (let i = 1; i < words.length; i++) bigrams.add(`${words[i - 1]} ${words[i]}`);
        return bigrams.size / (words.length - 1);
      },
    },
    {
      name: 'not_profane',
      description: 'minus the number of profanities (obscenity matcher)',
      scale: 1,
      score: (_prompt, response) => -profanityCount(response),
    },
    {
      name: 'wink_sentiment',
      description: 'wink-nlp document sentiment',
      scale: 0.3,
      score: (_prompt, response) => analyse(response).sentiment,
    },
    {
      name: 'vader_compound',
      description: 'VADER compound sentiment',
      scale: 0.5,
      score: (_prompt, response) => vaderScores(response).compound,
    },
    {
      name: 'vader_positive',
      description: 'VADER positive minus negative share',
      scale: 0.2,
      score: (_prompt, response) => {
        const scores = vaderScores(response);
        return scores.pos - scores.neg;
      },
    },
    {
      name: 'vader_ending',
      description: 'VADER compound sentiment of the last sentence',
      scale: 0.5,
      score: (_prompt, response) => {
        const { sentences } = analyse(response);
        if (sentences.length === 0) return -1;
        return vaderScores(sentences[sentences.length - 1]).compound;
      },
    },
  ];

  if (options.model) checks.push(fluencyCheck(options.model));
  return new Map(checks.map((check) => [check.name, check]));
}

/** Mean log-prob per token of the response given the prompt under a reference model. */
function fluencyCheck(model: CausalLM): Check {
  return {
    name: 'fluency',
    description: "the reference model's mean log-prob per response token",
    scale: 0.5,
    async score(prompt, response) {
      // Tokenize prompt and response together and split at the prompt's length: tokenizing the
      // response alone can split its first word differently.
      const promptIds = model.tokenizer.encode(prompt, { bos: true });
      const allIds = model.tokenizer.encode(prompt + response, { bos: true });
      const continuation = allIds.slice(promptIds.length);
      if (continuation.length === 0) return -10;
      const [logprobs] = await model.scoreContinuations([promptIds], [continuation]);
      return mean(logprobs);
    },
  };
}

interface Analysis {
  sentences: string[];
  sentenceSentiments: number[];
  sentiment: number;
  /** Lemmas of word tokens, lowercased. */
  lemmas: string[];
  /** Lemmas of word tokens that are not stop words. */
  contentLemmas: string[];
  /** Lowercased word tokens as written. */
  normals: string[];
}

const nlp = winkNLP(winkModel);
const its = nlp.its;
// Each text is read by several checks and compared several times; parsing dominates the cost.
const analysisCache = new Map<string, Analysis>();
const analysisCacheSize = 512;

function analyse(text: string): Analysis {
  const hit = analysisCache.get(text);
  if (hit) return hit;

  const doc = nlp.readDoc(text);
  const types = doc.tokens().out(its.type) as string[];
  const lemmas = doc.tokens().out(its.lemma as never) as unknown as string[];
  const normals = doc.tokens().out(its.normal) as string[];
  const stop = doc.tokens().out(its.stopWordFlag) as unknown as boolean[];
  const words = types.map((type) => type === 'word');
  const sentences = (doc.sentences().out() as string[]).filter((s) => s.trim().length > 0);
  const analysis: Analysis = {
    sentences,
    sentenceSentiments: doc.sentences().out(its.sentiment) as unknown as number[],
    sentiment: sentences.length === 0 ? 0 : (doc.out(its.sentiment) as unknown as number),
    lemmas: lemmas.filter((_, i) => words[i]).map((l) => l.toLowerCase()),
    contentLemmas: lemmas.filter((_, i) => words[i] && !stop[i]).map((l) => l.toLowerCase()),
    normals: normals.filter((_, i) => words[i]),
  };

  if (analysisCache.size >= analysisCacheSize) {
    analysisCache.delete(analysisCache.keys().next().value as string);
  }
  analysisCache.set(text, analysis);
  return analysis;
}

function lexiconHits(lemmas: string[], lexicon: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const lemma of lemmas) total += lexicon.get(lemma) ?? 0;
  return total;
}

let profanityMatcher: RegExpMatcher | undefined;

function profanityCount(text: string): number {
  profanityMatcher ??= new RegExpMatcher({
    ...englishDataset.build(),
    ...englishRecommendedTransformers,
  });
  // Several patterns can match one word ("shit" and "shi+t"): count merged regions.
  const matches = profanityMatcher.getAllMatches(text, true);
  let count = 0;
  let coveredTo = -1;
  for (const match of matches) {
    if (match.startIndex > coveredTo) count++;
    coveredTo = Math.max(coveredTo, match.endIndex);
  }
  return count;
}

function vaderScores(text: string) {
  return vader.SentimentIntensityAnalyzer.polarity_scores(text);
}

function mean(values: number[]): number {
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
