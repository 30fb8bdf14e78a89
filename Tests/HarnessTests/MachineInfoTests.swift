import Harness
import Testing

@Suite struct MachineInfoTests {
    @Test func cpuCountersReadStealAndTheTotalOfTheFirstEightFields() throws {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let stat = "cpu  100 5 50 800 10 2 3 30 7 1\ncpu0 50 2 25 400 5 1 1 15 3 0\nintr 12345\n"
        let c = try #require(MachineInfo.CPUCounters(procStat: stat))
        #expect(c.steal == 30 && c.total == 1000, "guest time is already inside user and nice")
    }

    @Test(arguments: ["", "intr 1 2 3", "cpu0 1 2 3 4 5 6 7 8", "cpu  1 2 3 4 5 6 7"])
    func malformedStatIsNil(text: String) {
        #expect(MachineInfo.CPUCounters(procStat: text) == nil)
    }

    @Test func stealShareIsTheStolenPartOfTheTimeBetween() {
        let a = MachineInfo.CPUCounters(steal: 30, total: 1000), b = MachineInfo.CPUCounters(steal: 55, total: 1200)
        #expect(a.stealShare(until: b) == 0.125)
        #expect(a.stealShare(until: a) == nil, "no time passed")
    }

    @Test func thisProcessHasUsedCPUAndMemory() {
        let c0 = MachineInfo.processCPUSeconds()
        var x = 0.0
        for i in 0..<2_000_000 { x += Double(i).squareRoot() }
        #expect(x > 0 && MachineInfo.processCPUSeconds() > c0)
        #expect(MachineInfo.peakRSSBytes() > 1 << 20)
    }
}
