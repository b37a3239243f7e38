/**
 * Types for the two NLP packages the embedded judge uses that ship without declarations,
 * covering only the calls made here.
 */
declare module 'text-readability' {
  interface Readability {
    fleschReadingEase(text: string): number;
    lexiconCount(text: string, removePunctuation?: boolean): number;
    syllableCount(text: string, lang?: string): number;
  }
  const readability: Readability;
  export default readability;
}

declare module 'vader-sentiment' {
  export const SentimentIntensityAnalyzer: {
    polarity_scores(text: string): { neg: number; neu: number; pos: number; compound: number };
  };
  const vader: { SentimentIntensityAnalyzer: typeof SentimentIntensityAnalyzer };
  export default vader;
}
