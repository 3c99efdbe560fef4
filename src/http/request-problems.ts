/**
 * The problems of a request as one list: what the route's JSON schema found (types, bounds,
 * unknown fields) together with what the domain checks found, so a caller fixes every field in one
 * round trip.
 */
import type { FastifyRequest } from 'fastify';
import { type Problem, problemsError } from '../core/validate.ts';

export interface SchemaIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

/** A body that is not a JSON object: nothing in it can be checked further. */
export const NOT_AN_OBJECT: Problem = { field: '(body)', message: '(body) must be a JSON object' };

/** What the whole part is called when the problem is with it rather than a field inside it. */
const WHOLE: Record<string, string> = {
  body: '(body)',
  querystring: '(query)',
  params: '(path)',
  headers: '(headers)',
};

function fieldOf(issue: SchemaIssue, context: string | undefined): string {
  const path = (issue.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  const missing =
    issue.keyword === 'required'
      ? issue.params?.missingProperty
      : issue.keyword === 'additionalProperties'
        ? issue.params?.additionalProperty
        : undefined;
  const field = [path, missing === undefined ? '' : String(missing)].filter(Boolean).join('.');
  return field || WHOLE[context ?? 'body'] || '(body)';
}

function messageOf(issue: SchemaIssue): string {
  switch (issue.keyword) {
    case 'additionalProperties':
      return 'is not a known field';
    case 'required':
      return 'is required';
    case 'enum':
      return `must be one of ${(issue.params?.allowedValues as unknown[] | undefined)?.join(', ') ?? 'the listed values'}`;
    default:
      return issue.message ?? 'is invalid';
  }
}

/** The schema's findings as problems; none when the request passed its schema. */
export function schemaProblems(
  issues: readonly SchemaIssue[] | undefined,
  context: string | undefined,
): Problem[] {
  return (issues ?? []).map((issue) => {
    const field = fieldOf(issue, context);
    return { field, message: `${field} ${messageOf(issue)}` };
  });
}

/**
 * Throws one 40001 with the domain's problems and the schema's (from a route with
 * `attachValidation`), the domain's wording first; a field the domain already explained is not
 * listed twice.
 */
export function refuseProblems(request: FastifyRequest, domain: readonly Problem[]): void {
  const error = request.validationError as
    | (Error & { validation?: SchemaIssue[]; validationContext?: string })
    | undefined;
  const explained = new Set(domain.map((problem) => problem.field));
  const fromSchema = schemaProblems(error?.validation, error?.validationContext).filter(
    (problem) => !explained.has(problem.field),
  );
  const problems = [...domain, ...fromSchema];
  if (problems.length > 0) throw problemsError(problems);
}
