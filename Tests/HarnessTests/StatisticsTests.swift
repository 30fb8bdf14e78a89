import Harness
import Testing

@Suite struct StatisticsTests {
    @Test func medianOfAnOddCountIsTheMiddleValue() {
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([9, 1, 5, 7, 3]) == 5)
        #expect(Statistics.median([4]) == 4)
    }

    @Test func medianOfAnEvenCountIsTheMeanOfTheTwoMiddleValues() {
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        #expect(Statistics.median([10, 20]) == 15)
        #expect(Statistics.median([1, 100, 2, 3]) == 2.5)
    }

    @Test func medianOfNothingIsNil() {
        #expect(Statistics.median([]) == nil)
    }

    @Test func percentileIsNearestRankOverTheValuesPresent() {
        // Sorted present values 10 20 30 40: rank ⌈p·4⌉ (at least 1).
        let values: [Double?] = [40, nil, 10, 30, 20]
        #expect(Statistics.percentile(values, 0.5) == 20)   // rank 2: the lower middle, not 25
        #expect(Statistics.percentile(values, 0.9) == 40)   // rank ⌈3.6⌉ = 4
        #expect(Statistics.percentile(values, 0.75) == 30)  // rank 3
        #expect(Statistics.percentile(values, 0.76) == 40)  // rank ⌈3.04⌉ = 4
        #expect(Statistics.percentile(values, 0) == 10)     // rank 1
        #expect(Statistics.percentile(values, 1) == 40)
    }

    @Test func percentileOfAnOddCount() {
        let values: [Double?] = [5, 1, 3]
        #expect(Statistics.percentile(values, 0.5) == 3)    // rank ⌈1.5⌉ = 2
        #expect(Statistics.percentile(values, 0.9) == 5)    // rank ⌈2.7⌉ = 3
        #expect(Statistics.percentile(values, 0.33) == 1)   // rank ⌈0.99⌉ = 1
        #expect(Statistics.percentile([7], 0.9) == 7)
    }

    @Test func percentileOfNothingIsNil() {
        #expect(Statistics.percentile([], 0.5) == nil)
        #expect(Statistics.percentile([nil, nil], 0.5) == nil)
    }

    @Test func medianRatioTakesTheRatioWithinEachRoundFirst() {
        // Rounds: 10/5 = 2, 100/100 = 1, 30/10 = 3 → median 2. The ratio of the medians would be 30/10 = 3.
        #expect(Statistics.medianRatio([10, 100, 30], over: [5, 100, 10]) == 2)
        // Even count: ratios 2 and 4 → 3.
        #expect(Statistics.medianRatio([2, 8], over: [1, 2]) == 3)
    }

    @Test func aRoundWithoutAPositiveDenominatorCountsAsZero() {
        #expect(Statistics.medianRatio([5, 6, 9], over: [0, 3, 3]) == 2)   // ratios 0, 2, 3
        #expect(Statistics.medianRatio([1], over: [-1]) == 0)
    }

    @Test func unmatchedRoundsAreIgnoredAndNoRoundsIsNil() {
        #expect(Statistics.medianRatio([4, 9, 100], over: [2, 3]) == 2.5)   // ratios 2, 3
        #expect(Statistics.medianRatio([], over: [1, 2]) == nil)
        #expect(Statistics.medianRatio([], over: []) == nil)
    }
}
