/** JSON schemas the console's pages share for their query strings and paths. */

/** A date filter (YYYY-MM-DD), or empty for none. */
export const DATE = { type: 'string', pattern: '^([0-9]{4}-[0-9]{2}-[0-9]{2})?$' } as const;

/** The page's language, when a link carries it. */
export const LANG = { type: 'string', enum: ['zh', 'en'] } as const;

/** A row's numeric id in the path. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } },
} as const;

/** A detail page: `done=1` after a change was made there. */
export const detailQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { done: { type: 'string', enum: ['1'] }, lang: LANG },
} as const;
